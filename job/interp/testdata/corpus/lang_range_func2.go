package main

import (
	"fmt"
	"iter"
)

func Pairs(words []string) iter.Seq2[int, string] {
	return func(yield func(int, string) bool) {
		for i, w := range words {
			if !yield(i, w) {
				return
			}
		}
	}
}

func find(words []string, w string) int {
	for i, x := range Pairs(words) {
		if x == w {
			return i
		}
	}
	return -1
}

func main() {
	for i, w := range Pairs([]string{"a", "b"}) {
		fmt.Println(i, w)
	}
	fmt.Println(find([]string{"x", "y", "z"}, "z"), find(nil, "q"))
}

// Output:
// 0 a
// 1 b
// 2 -1
