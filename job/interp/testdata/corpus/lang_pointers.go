package main

import "fmt"

type Node struct {
	Val  int
	Next *Node
}

func inc(p *int) { *p++ }

func main() {
	x := 1
	inc(&x)
	inc(&x)
	fmt.Println(x)
	var head *Node
	for i := 3; i > 0; i-- {
		head = &Node{i, head}
	}
	for n := head; n != nil; n = n.Next {
		fmt.Print(n.Val)
	}
	fmt.Println()
	pp := &head
	(*pp).Val = 9
	fmt.Println(head.Val, new(int) != nil)
}

// Output:
// 3
// 123
// 9 true
