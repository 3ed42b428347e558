package main

import "fmt"

var x = "global"

func main() {
	fmt.Println(x)
	x := "local"
	{
		x := "block"
		fmt.Println(x)
	}
	fmt.Println(x)
	if x := 5; x > 3 {
		fmt.Println("if", x)
	}
}

// Output:
// global
// block
// local
// if 5
