package main

import "fmt"

type Color int

const (
	Red Color = iota
	Green
	Blue
)

func (c Color) String() string { return [...]string{"red", "green", "blue"}[c] }

type Point struct{ X, Y int }

func (p Point) String() string { return fmt.Sprintf("(%d,%d)", p.X, p.Y) }

func main() {
	fmt.Println(Green, Blue)
	fmt.Printf("%v %s %d\n", Red, Blue, Blue)
	fmt.Println(Point{1, 2})
	fmt.Println([]Point{{1, 2}, {3, 4}})
}

// Output:
// green blue
// red blue 2
// (1,2)
// [(1,2) (3,4)]
