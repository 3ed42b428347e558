package main

import (
	"flag"
	"fmt"
)

func main() {
	n := flag.Int("n", 1, "how many")
	flag.Parse()
	fmt.Println("n =", *n, flag.Args())
}
