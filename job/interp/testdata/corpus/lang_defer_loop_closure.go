package main

import "fmt"

func main() {
	for i := 0; i < 3; i++ {
		defer func() { fmt.Println("deferred", i) }()
	}
	fmt.Println("body done")
}

// Output:
// body done
// deferred 2
// deferred 1
// deferred 0
