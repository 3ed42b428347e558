package main

import "fmt"

func producer(n int) <-chan int {
	ch := make(chan int)
	go func() {
		defer close(ch)
		for i := 0; i < n; i++ {
			ch <- i
		}
	}()
	return ch
}

func main() {
	sum := 0
	for v := range producer(5) {
		sum += v
	}
	fmt.Println(sum)
	buf := make(chan string, 2)
	buf <- "a"
	buf <- "b"
	fmt.Println(len(buf), cap(buf), <-buf, <-buf)
	v, ok := <-producer(0)
	fmt.Println(v, ok)
}

// Output:
// 10
// 2 2 a b
// 0 false
