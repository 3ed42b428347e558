package main

import (
	"fmt"
	"time"
)

// A CPU-bound loop that reports its own duration, so interpreted and
// compiled runs compare loop time without process or interpreter start.
func main() {
	start := time.Now()
	sum := 0
	for i := 0; i < 2000000; i++ {
		sum += i % 7
	}
	fmt.Println(sum, time.Since(start).Nanoseconds())
}
