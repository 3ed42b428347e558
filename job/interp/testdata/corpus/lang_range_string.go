package main

// Ranging over a string yields byte offsets and runes, also after
// multi-byte and invalid UTF-8; the index alone is the byte offset.

import (
	"fmt"
	"strings"
)

type label string

func upperAt(s string, at map[int]bool) string {
	var b strings.Builder
	for i, r := range s {
		if at[i] {
			r -= 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func main() {
	s := "héllo, 世界"
	var offs []int
	for i := range s {
		offs = append(offs, i)
	}
	fmt.Println(offs)

	var pairs []string
	for i, r := range "a\xffb\xe2\x82" {
		pairs = append(pairs, fmt.Sprint(i, ":", r))
	}
	fmt.Println(strings.Join(pairs, " "))

	n := 0
	for range s {
		n++
	}
	fmt.Println(n, len(s))

	fmt.Println(upperAt("grüße", map[int]bool{0: true, 6: true}))

	var i int
	var r rune
	for i, r = range label("añb") {
		if r == 'ñ' {
			break
		}
	}
	fmt.Println(i, string(r))

	var fs []func() int
outer:
	for i, c := range "x€yz" {
		switch c {
		case 'y':
			continue outer
		case 'z':
			break outer
		}
		fs = append(fs, func() int { return i })
	}
	for _, f := range fs {
		fmt.Print(f(), " ")
	}
	fmt.Println(len(fs))

	for _, c := range "ok" {
		fmt.Print(string(c))
	}
	fmt.Println()
}

// Output:
// [0 1 3 4 5 6 7 8 11]
// 0:97 1:65533 2:98 3:65533 4:65533
// 9 14
// GrüßE
// 1 ñ
// 0 1 2
// ok
