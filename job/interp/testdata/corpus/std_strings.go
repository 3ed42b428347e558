package main

import (
	"fmt"
	"strings"
)

func main() {
	s := "  Hello, World  "
	fmt.Println(strings.TrimSpace(s), strings.ToLower(s), strings.Contains(s, "World"))
	fmt.Println(strings.Split("a,b,c", ","), strings.Join([]string{"x", "y"}, "-"))
	fmt.Println(strings.Fields(" a  b c "), strings.Repeat("ab", 3), strings.Index("chicken", "ken"))
	fmt.Println(strings.HasPrefix("golang", "go"), strings.TrimSuffix("file.go", ".go"), strings.Title("x"))
	var b strings.Builder
	for i := 0; i < 3; i++ {
		fmt.Fprintf(&b, "%d;", i)
	}
	fmt.Println(b.String(), b.Len())
	r := strings.NewReplacer("a", "1", "b", "2")
	fmt.Println(r.Replace("abc"), strings.EqualFold("Go", "GO"), strings.Count("cheese", "e"))
	before, after, found := strings.Cut("k=v", "=")
	fmt.Println(before, after, found, strings.Map(func(r rune) rune { return r + 1 }, "abc"))
}

// Output:
// Hello, World   hello, world   true
// [a b c] x-y
// [a b c] ababab 4
// true file X
// 0;1;2; 6
// 12c true 3
// k v true bcd
