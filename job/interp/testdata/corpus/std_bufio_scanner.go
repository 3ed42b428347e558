package main

import (
	"bufio"
	"fmt"
	"strings"
)

func main() {
	sc := bufio.NewScanner(strings.NewReader("one two\nthree\n\nfour"))
	n := 0
	for sc.Scan() {
		n++
		fmt.Printf("%d: %q\n", n, sc.Text())
	}
	ws := bufio.NewScanner(strings.NewReader("a bb  ccc"))
	ws.Split(bufio.ScanWords)
	for ws.Scan() {
		fmt.Print(len(ws.Text()))
	}
	fmt.Println()
}

// Output:
// 1: "one two"
// 2: "three"
// 3: ""
// 4: "four"
// 123
