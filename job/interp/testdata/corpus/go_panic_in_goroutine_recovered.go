package main

import (
	"fmt"
	"sync"
)

func main() {
	var wg sync.WaitGroup
	errs := make(chan string, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() {
			if r := recover(); r != nil {
				errs <- fmt.Sprint("caught: ", r)
			}
		}()
		panic("worker failed")
	}()
	wg.Wait()
	fmt.Println(<-errs)
}

// Output:
// caught: worker failed
