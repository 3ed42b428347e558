package main

import "fmt"

type ID int

func main() {
	for i := range 3 {
		fmt.Print(i, " ")
	}
	fmt.Println()
	n := 4
	sum := 0
	for i := range n {
		sum += i
	}
	fmt.Println(sum)
	var last ID
	for id := range ID(3) {
		last = id
	}
	fmt.Printf("%T %v\n", last, last)
	count := 0
	for range 5 {
		count++
	}
	fmt.Println(count)
}

// Output:
// 0 1 2
// 6
// main.ID 2
// 5
