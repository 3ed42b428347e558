package main

import (
	"fmt"
	"sort"
)

func main() {
	m := map[string][]int{}
	m["a"] = append(m["a"], 1, 2)
	m["b"] = append(m["b"], 3)
	delete(m, "zz")
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Println(k, m[k])
	}
	v, ok := m["missing"]
	fmt.Println(v == nil, ok, len(m))
	fmt.Println(map[int]string{2: "b", 1: "a"})
}

// Output:
// a [1 2]
// b [3]
// true false 2
// map[1:a 2:b]
