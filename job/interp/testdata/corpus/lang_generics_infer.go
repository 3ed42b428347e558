package main

import "fmt"

func Keys[K comparable, V any](m map[K]V) int { return len(m) }

func Apply[T any](v T, fs ...func(T) T) T {
	for _, f := range fs {
		v = f(v)
	}
	return v
}

func Zero[T any]() T {
	var z T
	return z
}

func main() {
	fmt.Println(Keys(map[string]bool{"a": true}))
	fmt.Println(Apply(3, func(i int) int { return i + 1 }, func(i int) int { return i * 2 }))
	fmt.Printf("%q %v\n", Zero[string](), Zero[int]())
}

// Output:
// 1
// 8
// "" 0
