package main

import (
	"fmt"
	"strconv"
)

func divmod(a, b int) (q, r int) {
	q = a / b
	r = a % b
	return
}

func parse(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("parse %q: %w", s, err)
	}
	return n, nil
}

func main() {
	fmt.Println(divmod(17, 5))
	if _, err := parse("x1"); err != nil {
		fmt.Println(err)
	}
	n, _ := parse("42")
	fmt.Println(n)
}

// Output:
// 3 2
// parse "x1": strconv.Atoi: parsing "x1": invalid syntax
// 42
