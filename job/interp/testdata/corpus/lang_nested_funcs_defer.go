package main

import "fmt"

func trace(name string) func() {
	fmt.Println("enter", name)
	return func() { fmt.Println("exit", name) }
}

func a() {
	defer trace("a")()
	b()
}

func b() {
	defer trace("b")()
	fmt.Println("in b")
}

func main() { a() }

// Output:
// enter a
// enter b
// in b
// exit b
// exit a
