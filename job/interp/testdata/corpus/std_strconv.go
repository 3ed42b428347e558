package main

import (
	"fmt"
	"strconv"
)

func main() {
	n, err := strconv.Atoi("123")
	fmt.Println(n+1, err)
	_, err = strconv.Atoi("12a")
	fmt.Println(err)
	f, _ := strconv.ParseFloat("3.25", 64)
	fmt.Println(f * 2)
	b, _ := strconv.ParseBool("true")
	fmt.Println(b, strconv.Itoa(99), strconv.Quote("hi\n"), strconv.FormatInt(255, 16))
	i, _ := strconv.ParseInt("-ff", 16, 64)
	fmt.Println(i, strconv.FormatFloat(1.5, 'f', 3, 64))
	u, err := strconv.ParseUint("300", 10, 8)
	fmt.Println(u, err)
}

// Output:
// 124 <nil>
// strconv.Atoi: parsing "12a": invalid syntax
// 6.5
// true 99 "hi\n" ff
// -255 1.500
// 255 strconv.ParseUint: parsing "300": value out of range
