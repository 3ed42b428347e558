package main

import (
	"cmp"
	"fmt"
	"slices"
)

type User struct {
	Name string
	Age  int
}

func main() {
	fmt.Println(cmp.Compare(1, 2), cmp.Compare("b", "a"), cmp.Less(1.5, 2.5))
	fmt.Println(cmp.Or("", "default"), cmp.Or(0, 0, 7))
	users := []User{{"bob", 30}, {"al", 25}, {"cy", 30}}
	slices.SortStableFunc(users, func(a, b User) int {
		return cmp.Or(cmp.Compare(b.Age, a.Age), cmp.Compare(a.Name, b.Name))
	})
	fmt.Println(users)
}

// Output:
// -1 1 true
// default 7
// [{bob 30} {cy 30} {al 25}]
