package main

import (
	"errors"
	"fmt"
)

func safe(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("recovered: %v", r)
		}
	}()
	f()
	return nil
}

func main() {
	fmt.Println(safe(func() { panic("boom") }))
	fmt.Println(safe(func() { panic(errors.New("bad")) }))
	fmt.Println(safe(func() { var a []int; _ = a[3] }) != nil)
	fmt.Println(safe(func() {}))
}

// Output:
// recovered: boom
// recovered: bad
// true
// <nil>
