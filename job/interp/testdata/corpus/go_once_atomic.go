package main

import (
	"fmt"
	"sync"
	"sync/atomic"
)

func main() {
	var once sync.Once
	var n atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			once.Do(func() { fmt.Println("init once") })
			n.Add(2)
		}()
	}
	wg.Wait()
	fmt.Println(n.Load())
	var c int32
	atomic.AddInt32(&c, 5)
	fmt.Println(atomic.LoadInt32(&c), atomic.CompareAndSwapInt32(&c, 5, 6), c)
}

// Output:
// init once
// 20
// 5 true 6
