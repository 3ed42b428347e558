package main

import (
	"fmt"
	"iter"
	"slices"
)

func Evens(limit int) iter.Seq[int] {
	return func(yield func(int) bool) {
		for i := 0; i <= limit; i += 2 {
			if !yield(i) {
				return
			}
		}
	}
}

func main() {
	fmt.Println(slices.Collect(Evens(8)))
	next, stop := iter.Pull(Evens(100))
	defer stop()
	for i := 0; i < 3; i++ {
		v, ok := next()
		fmt.Println(v, ok)
	}
}

// Output:
// [0 2 4 6 8]
// 0 true
// 2 true
// 4 true
