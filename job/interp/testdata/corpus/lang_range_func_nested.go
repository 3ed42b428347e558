package main

import (
	"fmt"
	"iter"
)

func Upto(n int) iter.Seq[int] {
	return func(yield func(int) bool) {
		for i := 1; i <= n; i++ {
			if !yield(i) {
				return
			}
		}
	}
}

func firstPair(target int) (int, int) {
	for a := range Upto(5) {
		for b := range Upto(5) {
			if a*b == target {
				return a, b
			}
		}
	}
	return 0, 0
}

func main() {
	fmt.Println(firstPair(12))
	total := 0
	for a := range Upto(3) {
		for b := range Upto(3) {
			if b > a {
				break
			}
			total += a * b
		}
	}
	fmt.Println(total)
}

// Output:
// 3 4
// 25
