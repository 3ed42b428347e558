package main

import "fmt"

type Key struct {
	Host string
	Port int
}

func main() {
	seen := map[Key]int{}
	seen[Key{"a", 1}]++
	seen[Key{"a", 1}]++
	seen[Key{"b", 2}]++
	fmt.Println(seen[Key{"a", 1}], len(seen))
	fmt.Println(Key{"x", 1} == Key{"x", 1}, [2]int{1, 2} == [2]int{1, 3})
}

// Output:
// 2 2
// true false
