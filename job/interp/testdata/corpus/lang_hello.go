package main

import "fmt"

func main() {
	fmt.Println("hello, warren")
}

// Output:
// hello, warren
