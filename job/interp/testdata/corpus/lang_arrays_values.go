package main

import "fmt"

func modify(a [3]int) { a[0] = 100 }
func modifyS(s []int) { s[0] = 100 }

func main() {
	a := [3]int{1, 2, 3}
	b := a
	b[1] = 20
	modify(a)
	fmt.Println(a, b)
	s := a[:]
	modifyS(s)
	fmt.Println(a, len(s))
}

// Output:
// [1 2 3] [1 20 3]
// [100 2 3] 3
