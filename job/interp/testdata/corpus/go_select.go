package main

import (
	"fmt"
	"sort"
	"time"
)

func main() {
	a := make(chan int)
	b := make(chan string)
	go func() { a <- 1 }()
	go func() { b <- "two" }()
	var got []string
	for len(got) < 2 {
		select {
		case v := <-a:
			got = append(got, fmt.Sprint("a ", v))
		case s := <-b:
			got = append(got, "b "+s)
		}
	}
	sort.Strings(got)
	fmt.Println(got)
	select {
	case v := <-a:
		fmt.Println("unexpected", v)
	default:
		fmt.Println("nothing ready")
	}
	select {
	case <-time.After(10 * time.Millisecond):
		fmt.Println("timeout")
	case <-a:
	}
}

// Output:
// [a 1 b two]
// nothing ready
// timeout
