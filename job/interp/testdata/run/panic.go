package main

import "fmt"

func inner(m map[string]int) {
	m["x"] = 1
}

func main() {
	fmt.Println("start")
	inner(nil)
}
