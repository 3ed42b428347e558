package main

// A nil pointer of a concrete type stored in an interface makes a non-nil
// interface value (the classic "typed nil" error).

import "fmt"

type opError struct{ op string }

func (e *opError) Error() string { return e.op + " failed" }

func run(fail bool) error {
	var err *opError
	if fail {
		err = &opError{"write"}
	}
	return err
}

func main() {
	fmt.Println(run(true) != nil)
	fmt.Println(run(false) != nil)
	var p *opError
	var e error = p
	fmt.Println(e == nil, p == nil)
}

// Output:
// true
// true
// false true
