package main

import (
	"fmt"
	"sync"
	"time"
)

func main() {
	var wg sync.WaitGroup
	var mu sync.Mutex
	sum := 0
	for i := range 4 {
		wg.Go(func() {
			mu.Lock()
			sum += i
			mu.Unlock()
		})
	}
	wg.Wait()
	fmt.Println("sum", sum)
	done := make(chan string)
	time.AfterFunc(time.Millisecond, func() { done <- "fired" })
	fmt.Println(<-done)
}

// Output:
// sum 6
// fired
