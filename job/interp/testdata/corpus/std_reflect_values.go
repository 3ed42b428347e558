package main

import (
	"fmt"
	"reflect"
)

func main() {
	for _, x := range []any{1, "s", 2.5, []int{1}, map[string]int{}, struct{}{}} {
		fmt.Println(reflect.TypeOf(x).Kind(), reflect.ValueOf(x).IsValid())
	}
	fmt.Println(reflect.DeepEqual([]int{1, 2}, []int{1, 2}), reflect.DeepEqual(map[string]int{"a": 1}, map[string]int{"a": 2}))
	f := reflect.ValueOf(func(a, b int) int { return a + b })
	out := f.Call([]reflect.Value{reflect.ValueOf(2), reflect.ValueOf(3)})
	fmt.Println(out[0].Int())
}

// Output:
// int true
// string true
// float64 true
// slice true
// map true
// struct true
// true false
// 5
