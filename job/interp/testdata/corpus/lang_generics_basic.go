package main

import "fmt"

func Map[T, U any](s []T, f func(T) U) []U {
	out := make([]U, 0, len(s))
	for _, v := range s {
		out = append(out, f(v))
	}
	return out
}

func Filter[T any](s []T, keep func(T) bool) []T {
	var out []T
	for _, v := range s {
		if keep(v) {
			out = append(out, v)
		}
	}
	return out
}

func main() {
	sq := Map([]int{1, 2, 3}, func(i int) int { return i * i })
	fmt.Println(sq)
	strs := Map(sq, func(i int) string { return fmt.Sprintf("<%d>", i) })
	fmt.Println(strs)
	fmt.Println(Filter([]int{1, 2, 3, 4}, func(i int) bool { return i%2 == 0 }))
}

// Output:
// [1 4 9]
// [<1> <4> <9>]
// [2 4]
