package main

import (
	"fmt"
	"sync"
)

func main() {
	calls := 0
	get := sync.OnceValue(func() int { calls++; return 42 })
	fmt.Println(get(), get(), calls)
	pair := sync.OnceValues(func() (string, error) { return "cfg", nil })
	s, err := pair()
	fmt.Println(s, err)
	var m sync.Map
	m.Store("k", 1)
	v, ok := m.Load("k")
	fmt.Println(v, ok)
}

// Output:
// 42 42 1
// cfg <nil>
// 1 true
