package main

import "fmt"

func main() {
	var a int
	var b string
	n, err := fmt.Sscan("42 hello", &a, &b)
	fmt.Println(n, err, a, b)
	var x, y int
	fmt.Sscanf("10-20", "%d-%d", &x, &y)
	fmt.Println(x + y)
}

// Output:
// 2 <nil> 42 hello
// 30
