package main

import "fmt"

func main() {
	p := struct {
		Name string
		Age  int
	}{"ann", 30}
	fmt.Printf("%v %+v\n", p, p)
	pts := []struct{ X, Y int }{{1, 2}, {3, 4}}
	fmt.Println(pts)
	type local struct{ A int }
	l := local{5}
	fmt.Printf("%#v\n", l.A)
}

// Output:
// {ann 30} {Name:ann Age:30}
// [{1 2} {3 4}]
// 5
