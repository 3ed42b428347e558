package main

// An error type with a value receiver, returned as error by the program's
// own function: a type switch and a type assertion find its type.

import "fmt"

type validationError struct{ field string }

func (v validationError) Error() string { return "invalid " + v.field }

func validate(name string) error {
	if name == "" {
		return validationError{"name"}
	}
	return nil
}

func main() {
	err := validate("")
	switch e := err.(type) {
	case nil:
		fmt.Println("ok")
	case validationError:
		fmt.Println("bad field:", e.field)
	default:
		fmt.Println("other:", e)
	}
	v, ok := err.(validationError)
	fmt.Println(v.field, ok)
}

// Output:
// bad field: name
// name true
