package main

// A struct value of a type with methods, stored in an interface: passed as
// any to the program's own function, kept in []any or map[string]any, it
// prints as its fields; a copy taken into an interface does not change
// with the variable.

import "fmt"

type point struct{ X, Y int }

func (p point) Norm1() int { return abs(p.X) + abs(p.Y) }

type normer interface{ Norm1() int }

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func describe(v any) string { return fmt.Sprint("value ", v) }

func main() {
	p := point{1, -2}
	fmt.Println(describe(p))
	fields := map[string]any{"pos": p}
	fmt.Println(fields)
	row := []any{p, 3}
	fmt.Println(row)

	var n normer = p
	p.X = 10
	fmt.Println(n.Norm1(), n)
}

// Output:
// value {1 -2}
// map[pos:{1 -2}]
// [{1 -2} 3]
// 3 {1 -2}
