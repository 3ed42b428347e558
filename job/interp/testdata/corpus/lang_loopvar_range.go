package main

import "fmt"

func main() {
	var ps []*string
	for _, s := range []string{"a", "b", "c"} {
		ps = append(ps, &s)
	}
	for _, p := range ps {
		fmt.Print(*p)
	}
	fmt.Println()
	var fs []func() string
	for k, v := range map[int]string{1: "x"} {
		fs = append(fs, func() string { return fmt.Sprint(k, v) })
	}
	fmt.Println(fs[0]())
}

// Output:
// abc
// 1x
