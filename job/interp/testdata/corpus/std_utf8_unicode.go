package main

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

func main() {
	fmt.Println(unicode.IsUpper('A'), unicode.IsDigit('5'), unicode.ToLower('Q'), string(unicode.ToUpper('é')))
	b := []byte("héllo")
	r, size := utf8.DecodeRune(b[1:])
	fmt.Println(string(r), size, utf8.ValidString("ok"), utf8.RuneLen('世'))
	buf := utf8.AppendRune(nil, '界')
	fmt.Println(len(buf))
}

// Output:
// true true 113 É
// é 2 true 3
// 3
