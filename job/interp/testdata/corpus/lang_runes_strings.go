package main

import (
	"fmt"
	"unicode/utf8"
)

func main() {
	s := "héllo, 世界"
	fmt.Println(len(s), utf8.RuneCountInString(s))
	for i, r := range "aé世" {
		fmt.Println(i, string(r), r)
	}
	b := []byte("abc")
	b[0] = 'X'
	fmt.Println(string(b), []rune("é")[0])
	fmt.Println(s[1:3] == "é")
}

// Output:
// 14 9
// 0 a 97
// 1 é 233
// 3 世 19990
// Xbc 233
// true
