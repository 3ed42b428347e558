package main

import (
	"fmt"
	"sort"
)

type byLen []string

func (s byLen) Len() int           { return len(s) }
func (s byLen) Less(i, j int) bool { return len(s[i]) < len(s[j]) }
func (s byLen) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }

func main() {
	ints := []int{5, 2, 8, 1}
	sort.Ints(ints)
	fmt.Println(ints, sort.SearchInts(ints, 5))
	words := []string{"banana", "kiwi", "apple"}
	sort.Strings(words)
	fmt.Println(words)
	sort.Sort(byLen(words))
	fmt.Println(words)
	people := []struct {
		Name string
		Age  int
	}{{"a", 30}, {"b", 20}, {"c", 30}}
	sort.SliceStable(people, func(i, j int) bool { return people[i].Age < people[j].Age })
	fmt.Println(people)
	fmt.Println(sort.IsSorted(sort.IntSlice(ints)))
}

// Output:
// [1 2 5 8] 2
// [apple banana kiwi]
// [kiwi apple banana]
// [{b 20} {a 30} {c 30}]
// true
