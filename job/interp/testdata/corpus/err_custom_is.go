package main

import (
	"errors"
	"fmt"
)

type StatusErr struct{ Code int }

func (e StatusErr) Error() string { return fmt.Sprint("status ", e.Code) }

var ErrServer = StatusErr{500}

func main() {
	err := fmt.Errorf("request: %w", StatusErr{500})
	fmt.Println(errors.Is(err, ErrServer))
	fmt.Println(errors.Is(err, StatusErr{404}))
}

// Output:
// true
// false
