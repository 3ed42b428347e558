package main

import "fmt"

func Count(n int) func(func(int) bool) {
	return func(yield func(int) bool) {
		for i := 0; i < n; i++ {
			if !yield(i) {
				return
			}
		}
	}
}

func main() {
	for x := range Count(10) {
		if x%2 == 1 {
			continue
		}
		if x > 6 {
			break
		}
		fmt.Println(x)
	}
}

// Output:
// 0
// 2
// 4
// 6
