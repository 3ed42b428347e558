package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

func work(ctx context.Context, out chan<- string) {
	select {
	case <-ctx.Done():
		out <- "cancelled: " + ctx.Err().Error()
	case <-time.After(5 * time.Second):
		out <- "finished"
	}
}

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan string)
	go work(ctx, out)
	cancel()
	fmt.Println(<-out)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	<-ctx2.Done()
	fmt.Println(errors.Is(ctx2.Err(), context.DeadlineExceeded))
	ctx3 := context.WithValue(context.Background(), "k", "v")
	fmt.Println(ctx3.Value("k"))
}

// Output:
// cancelled: context canceled
// true
// v
