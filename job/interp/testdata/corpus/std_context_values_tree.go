package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

type key string

func main() {
	root, cancel := context.WithCancel(context.Background())
	ctx := context.WithValue(root, key("user"), "ann")
	var wg sync.WaitGroup
	results := make([]string, 3)
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ctx.Done()
			results[i] = fmt.Sprint(i, ctx.Value(key("user")), ctx.Err())
		}()
	}
	time.Sleep(time.Millisecond)
	cancel()
	wg.Wait()
	for _, r := range results {
		fmt.Println(r)
	}
	c2, stop := context.WithCancelCause(context.Background())
	stop(fmt.Errorf("shutdown"))
	fmt.Println(context.Cause(c2))
}

// Output:
// 0anncontext canceled
// 1anncontext canceled
// 2anncontext canceled
// shutdown
