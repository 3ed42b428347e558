package main

// A deferred or go call of a pointer-receiver method on an addressable
// value (defer sb.WriteString(x), go c.run()) takes the receiver's address
// at the statement: the call acts on the variable, not on a copy.

import (
	"fmt"
	"strings"
	"sync"
)

type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) inc(wg *sync.WaitGroup) {
	defer wg.Done()
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
}

type trace struct{ steps []string }

func (t *trace) add(s string) { t.steps = append(t.steps, s) }
func (t trace) count() int    { return len(t.steps) }

func work(t *trace) {
	var local trace
	defer func() { t.steps = append(t.steps, local.steps...) }()
	defer local.add("cleanup")
	local.add("start")
}

func main() {
	var sb strings.Builder
	func() {
		for i := 3; i > 0; i-- {
			defer sb.WriteString(fmt.Sprint(i))
		}
	}()
	fmt.Println(sb.String())

	var c counter
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go c.inc(&wg)
	}
	wg.Wait()
	fmt.Println(c.n)

	var t trace
	work(&t)
	fmt.Println(t.steps)

	var n int
	func() {
		defer func(k int) { n = k }(t.count())
		t.add("more")
	}()
	fmt.Println(n, t.count())
}

// Output:
// 123
// 4
// [start cleanup]
// 2 3
