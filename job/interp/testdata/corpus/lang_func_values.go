package main

import (
	"fmt"
	"strings"
)

type op func(int, int) int

func apply(f op, a, b int) int { return f(a, b) }

func main() {
	ops := map[string]op{
		"add": func(a, b int) int { return a + b },
		"mul": func(a, b int) int { return a * b },
	}
	fmt.Println(apply(ops["add"], 2, 3), apply(ops["mul"], 2, 3))
	up := strings.ToUpper
	fmt.Println(up("abc"))
	var nilf func()
	fmt.Println(nilf == nil)
}

// Output:
// 5 6
// ABC
// true
