package main

import (
	"errors"
	"fmt"
)

var (
	ErrA = errors.New("a failed")
	ErrB = errors.New("b failed")
)

func main() {
	err := errors.Join(ErrA, ErrB)
	fmt.Println(err)
	fmt.Println(errors.Is(err, ErrA), errors.Is(err, ErrB))
	wrapped := fmt.Errorf("ctx: %w, and %w", ErrA, ErrB)
	fmt.Println(wrapped, errors.Is(wrapped, ErrB))
	fmt.Println(errors.Join(nil, nil) == nil)
	fmt.Println(errors.Unwrap(fmt.Errorf("x: %w", ErrA)) == ErrA)
}

// Output:
// a failed
// b failed
// true true
// ctx: a failed, and b failed true
// true
// true
