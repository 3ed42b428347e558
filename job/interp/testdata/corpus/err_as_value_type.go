package main

import (
	"errors"
	"fmt"
)

type Timeout struct{ Op string }

func (t Timeout) Error() string { return t.Op + " timed out" }

func main() {
	err := fmt.Errorf("call: %w", Timeout{"dial"})
	var t Timeout
	if errors.As(err, &t) {
		fmt.Println("timeout in", t.Op)
	}
	joined := errors.Join(errors.New("x"), Timeout{"read"})
	var t2 Timeout
	fmt.Println(errors.As(joined, &t2), t2.Op)
	fmt.Println(errors.As(errors.New("plain"), &t2))
}

// Output:
// timeout in dial
// true read
// false
