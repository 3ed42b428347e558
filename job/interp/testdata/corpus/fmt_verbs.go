package main

import "fmt"

type T struct {
	A int
	B string
	C []byte
}

func main() {
	t := T{1, "x", []byte("hi")}
	fmt.Printf("%v|%+v\n", t, t)
	fmt.Printf("%d|%5d|%-5d|%05d|%x|%X|%o|%b\n", 42, 42, 42, 42, 255, 255, 8, 5)
	fmt.Printf("%f|%.2f|%8.3f|%e|%g\n", 3.14159, 3.14159, 3.14159, 1234.5678, 0.000012)
	fmt.Printf("%s|%q|%10s|%-10s|\n", "go", "go", "go", "go")
	fmt.Printf("%t|%c|%U|%p\n", true, 'A', 'A', nil)
	fmt.Printf("%x|% x|%q\n", "hey", []byte{1, 2}, 'x')
	fmt.Printf("%T|%T|%T\n", t, &t, []any{1})
	fmt.Printf("%6.2f%%\n", 12.3456)
	fmt.Printf("%[2]d %[1]d\n", 1, 2)
	fmt.Printf("%v %v\n", []string{"a"}, map[string]int{"k": 1})
	fmt.Printf("%08.3f|%+d|% d\n", 3.14159, 5, 5)
}

// Output:
// {1 x [104 105]}|{A:1 B:x C:[104 105]}
// 42|   42|42   |00042|ff|FF|10|101
// 3.141590|3.14|   3.142|1.234568e+03|1.2e-05
// go|"go"|        go|go        |
// true|A|U+0041|%!p(<nil>)
// 686579|01 02|'x'
// main.T|*main.T|[]interface {}
//  12.35%
// 2 1
// [a] map[k:1]
// 0003.142|+5| 5
