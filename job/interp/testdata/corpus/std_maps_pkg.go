package main

import (
	"fmt"
	"maps"
)

func main() {
	m := map[string]int{"a": 1, "b": 2}
	c := maps.Clone(m)
	c["c"] = 3
	fmt.Println(len(m), len(c), maps.Equal(m, c))
	maps.DeleteFunc(c, func(k string, v int) bool { return v > 1 })
	fmt.Println(c)
	dst := map[string]int{"z": 26}
	maps.Copy(dst, m)
	fmt.Println(dst)
	col := maps.Collect(maps.All(map[int]bool{1: true}))
	fmt.Println(col)
}

// Output:
// 2 3 false
// map[a:1]
// map[a:1 b:2 z:26]
// map[1:true]
