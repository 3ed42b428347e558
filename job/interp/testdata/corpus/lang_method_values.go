package main

import "fmt"

type Acc struct{ n int }

func (a *Acc) Add(d int) { a.n += d }
func (a Acc) Get() int   { return a.n }

func main() {
	a := &Acc{}
	add := a.Add
	add(2)
	add(3)
	get := (*Acc).Get
	fmt.Println(a.Get(), get(a))
	fs := []func(int){a.Add, a.Add}
	for _, f := range fs {
		f(10)
	}
	fmt.Println(a.n)
}

// Output:
// 5 5
// 25
