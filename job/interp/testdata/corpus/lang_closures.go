package main

import "fmt"

func counter() func() int {
	n := 0
	return func() int { n++; return n }
}

func main() {
	c := counter()
	c()
	c()
	fmt.Println(c())
	add := func(a int) func(int) int { return func(b int) int { return a + b } }
	fmt.Println(add(2)(3))
}

// Output:
// 3
// 5
