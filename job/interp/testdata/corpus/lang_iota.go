package main

import "fmt"

type Size uint

const (
	_       = iota
	KB Size = 1 << (10 * iota)
	MB
	GB
)

const (
	A, B = iota, iota * 10
	C, D
)

func main() {
	fmt.Println(KB, MB, GB)
	fmt.Println(A, B, C, D)
}

// Output:
// 1024 1048576 1073741824
// 0 0 1 10
