package main

import (
	"fmt"
	"os"
)

func main() {
	s := fmt.Sprint("a", 1, 2, "b", "c", 3.5)
	fmt.Println(s)
	fmt.Println(fmt.Sprintln("x", 1) == "x 1\n")
	fmt.Fprintln(os.Stdout, "to stdout", 7)
	fmt.Fprintf(os.Stdout, "%s=%d\n", "k", 9)
	var p *int
	fmt.Println(p == nil, fmt.Sprintf("%v", p))
	fmt.Println(fmt.Sprintf("%5.1f|%-6v|", 2.25, true))
	err := fmt.Errorf("wrap %d: %w", 1, os.ErrNotExist)
	fmt.Println(err)
}

// Output:
// a1 2bc3.5
// true
// to stdout 7
// k=9
// true <nil>
//   2.2|true  |
// wrap 1: file does not exist
