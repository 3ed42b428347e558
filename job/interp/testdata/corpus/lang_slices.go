package main

import "fmt"

func main() {
	s := make([]int, 0, 2)
	for i := 0; i < 5; i++ {
		s = append(s, i)
	}
	fmt.Println(s, len(s), s[1:3], s[:2:2])
	c := make([]int, 3)
	n := copy(c, s[2:])
	fmt.Println(c, n)
	var grid [2][3]int
	grid[1][2] = 7
	fmt.Println(grid)
	arr := [...]string{2: "c", 0: "a"}
	fmt.Println(len(arr), arr)
}

// Output:
// [0 1 2 3 4] 5 [1 2] [0 1]
// [2 3 4] 3
// [[0 0 0] [0 0 7]]
// 3 [a  c]
