package main

import (
	"fmt"
	"strconv"
)

type Stringer interface{ String() string }

type Num int

func (n Num) String() string { return "#" + strconv.Itoa(int(n)) }

func JoinAll[T Stringer](xs []T) string {
	out := ""
	for _, x := range xs {
		out += x.String()
	}
	return out
}

func main() {
	fmt.Println(JoinAll([]Num{1, 2, 3}))
}

// Output:
// #1#2#3
