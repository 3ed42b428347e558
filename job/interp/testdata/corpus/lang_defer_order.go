package main

import "fmt"

func f() (n int) {
	defer func() { n *= 2 }()
	return 21
}

func main() {
	for i := 0; i < 3; i++ {
		defer fmt.Println("defer", i)
	}
	fmt.Println(f())
}

// Output:
// 42
// defer 2
// defer 1
// defer 0
