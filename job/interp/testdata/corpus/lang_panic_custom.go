package main

import "fmt"

type MyErr struct{ Code int }

func (e MyErr) Error() string { return fmt.Sprintf("code %d", e.Code) }

func main() {
	defer func() {
		r := recover()
		if e, ok := r.(MyErr); ok {
			fmt.Println("recovered MyErr", e.Code)
		}
	}()
	panic(MyErr{42})
}

// Output:
// recovered MyErr 42
