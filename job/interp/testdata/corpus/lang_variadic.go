package main

import "fmt"

func join(sep string, parts ...string) string {
	out := ""
	for i, p := range parts {
		if i > 0 {
			out += sep
		}
		out += p
	}
	return out
}

func main() {
	fmt.Println(join("-", "a", "b", "c"))
	xs := []string{"x", "y"}
	fmt.Println(join("+", xs...))
	fmt.Println(join(","))
}

// Output:
// a-b-c
// x+y
