package main

// go and defer statements whose call passes an untyped nil (to an
// interface, pointer, slice, map or func parameter) along with other
// arguments evaluated at the statement.

import (
	"errors"
	"fmt"
	"sync"
)

type node struct{ v int }

func show(tag string, err error, p *node, s []int, m map[string]int, f func() int) {
	fmt.Println(tag, err == nil, p == nil, s == nil, m == nil, f == nil)
}

func main() {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
	}()
	wg.Wait()

	done := make(chan struct{})
	run := func(tag string, err error, p *node) {
		show(tag, err, p, nil, nil, nil)
		close(done)
	}
	go run("go", nil, nil)
	<-done

	i := 1
	defer show("defer", nil, nil, nil, nil, nil)
	defer show("defer-mixed", errors.New("x"), &node{i}, []int{i}, nil, func() int { return i })
	i = 2
	fmt.Println("main ends", i)
}

// Output:
// go true true true true true
// main ends 2
// defer-mixed false false false true false
// defer true true true true true
