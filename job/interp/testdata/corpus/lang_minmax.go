package main

import "fmt"

type Celsius float64

func main() {
	a, b := 3, 7
	fmt.Println(min(a, b), max(a, b), min(a, b, -1))
	fmt.Println(max(2.5, 1), min("pear", "apple"))
	x, y := Celsius(20.5), Celsius(18)
	fmt.Println(min(x, y))
	const c = min(4, 2, 8)
	fmt.Println(c)
}

// Output:
// 3 7 -1
// 2.5 apple
// 18
// 2
