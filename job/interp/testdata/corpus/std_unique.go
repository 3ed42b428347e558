package main

import (
	"fmt"
	"unique"
)

func main() {
	a := unique.Make("hello")
	b := unique.Make("hel" + "lo")
	c := unique.Make("other")
	fmt.Println(a == b, a == c, a.Value(), c.Value())
}

// Output:
// true false hello other
