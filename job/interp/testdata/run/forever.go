package main

import "fmt"

func main() {
	fmt.Println("started")
	n := 0
	for {
		n++
	}
}
