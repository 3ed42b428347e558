package main

// Multi-value assignments (=, := and var) mixing calls, receives,
// composite literals, constants and nil: every value must arrive.

import (
	"errors"
	"fmt"
)

type node struct{ v int }

type pair[T any] struct{ a, b T }

var pkgN, pkgS = 7, []string{"x"}

var n int

func next() int     { n++; return n }
func str() string   { return "s" }
func arr() [2]int   { return [2]int{3, 4} }
func ptr() *node    { return &node{5} }
func pr() pair[int] { return pair[int]{6, 7} }

func main() {
	a, b, c := errors.New("e"), &node{1}, []int{1, 2}
	fmt.Println(a, b.v, c)
	s, m := "str", map[string]int{"k": 1}
	fmt.Println(s, m)
	var p *node
	var q [2]int
	p, q = &node{2}, [2]int{3, 4}
	fmt.Println(p.v, q)
	arr3, k := [...]int{5, 6, 7}, 8
	fmt.Println(arr3, len(arr3), k)
	type local struct{ x int }
	l, i := local{9}, 10
	fmt.Println(l, i)
	g, h := pair[int]{1, 2}, "generic"
	fmt.Println(g, h)
	fmt.Println(pkgN, pkgS)

	// calls next to constants
	var j int
	var t string
	j, t = 8, str()
	fmt.Println(j, t)
	j, q = 9, arr()
	fmt.Println(j, q)
	j, p = 10, ptr()
	fmt.Println(j, p.v)
	var pp pair[int]
	j, pp = 11, pr()
	fmt.Println(j, pp)

	// receives
	ch := make(chan int, 3)
	ch <- 20
	ch <- 21
	ch <- 22
	r1, r2 := 1, <-ch
	fmt.Println(r1, r2)
	r1, r2 = 2, <-ch
	fmt.Println(r1, r2)
	var r3, r4 = <-ch, 3
	fmt.Println(r3, r4)

	// nil among the values
	var err error
	j, err = 12, nil
	fmt.Println(j, err)
	j, p = 13, nil
	fmt.Println(j, p == nil)

	// swaps and arithmetic keep working
	x0, y0 := 0, 1
	for range 10 {
		x0, y0 = y0, x0+y0
	}
	fmt.Println(x0, y0)

	// evaluation order stays left to right
	x, y, z := next(), []int{next()}, next()
	fmt.Println(x, y, z)
}

// Output:
// e 1 [1 2]
// str map[k:1]
// 2 [3 4]
// [5 6 7] 3 8
// {9} 10
// {1 2} generic
// 7 [x]
// 8 s
// 9 [3 4]
// 10 5
// 11 {6 7}
// 1 20
// 2 21
// 22 3
// 12 <nil>
// 13 true
// 55 89
// 1 [2] 3
