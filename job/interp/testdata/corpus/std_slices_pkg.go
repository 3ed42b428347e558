package main

import (
	"fmt"
	"slices"
	"strings"
)

func main() {
	s := []int{3, 1, 4, 1, 5, 9, 2, 6}
	slices.Sort(s)
	fmt.Println(s, slices.Contains(s, 9), slices.Index(s, 4))
	i, found := slices.BinarySearch(s, 5)
	fmt.Println(i, found, slices.Max(s), slices.Min(s))
	fmt.Println(slices.Compact([]int{1, 1, 2, 2, 2, 3}), slices.Equal(s, slices.Clone(s)))
	words := []string{"Banana", "apple", "Cherry"}
	slices.SortFunc(words, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	fmt.Println(words)
	r := []int{1, 2, 3}
	slices.Reverse(r)
	fmt.Println(r, slices.Insert(r, 1, 10, 11), slices.IndexFunc(r, func(x int) bool { return x < 3 }))
	fmt.Println(slices.Delete([]int{0, 1, 2, 3}, 1, 3), slices.Repeat([]string{"x"}, 3))
}

// Output:
// [1 1 2 3 4 5 6 9] true 4
// 5 true 9 1
// [1 2 3] true
// [apple Banana Cherry]
// [3 2 1] [3 10 11 2 1] 1
// [0 3] [x x x]
