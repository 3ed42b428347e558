package main

import (
	"fmt"
	"strings"
)

func main() {
	text := "first\nsecond\nthird"
	for line := range strings.Lines(text) {
		fmt.Printf("%q\n", line)
	}
	for part := range strings.SplitSeq("a,b,c", ",") {
		fmt.Print(part, ";")
	}
	fmt.Println()
	for f := range strings.FieldsSeq(" x  y ") {
		fmt.Print("[", f, "]")
	}
	fmt.Println()
}

// Output:
// "first\n"
// "second\n"
// "third"
// a;b;c;
// [x][y]
