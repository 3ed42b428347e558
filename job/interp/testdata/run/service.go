package main

import (
	"errors"
	"fmt"

	"github.com/warren-mesh/warren/service"
)

// An interpreted program that imports warren's service library.
func main() {
	err := fmt.Errorf("discover: %w", service.ErrNotFound)
	fmt.Println(errors.Is(err, service.ErrNotFound), service.MaxNameLen > 0)
}
