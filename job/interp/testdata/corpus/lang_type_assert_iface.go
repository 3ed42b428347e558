package main

import (
	"fmt"
	"io"
	"strings"
)

type named interface{ Name() string }

type file struct{ n string }

func (f file) Name() string               { return f.n }
func (f file) Read(p []byte) (int, error) { return 0, io.EOF }

func main() {
	var r io.Reader = file{"data.txt"}
	if n, ok := r.(named); ok {
		fmt.Println("named", n.Name())
	}
	_, isWriter := r.(io.Writer)
	fmt.Println(isWriter)
	var sr io.Reader = strings.NewReader("x")
	_, isSeeker := sr.(io.Seeker)
	fmt.Println(isSeeker)
}

// Output:
// named data.txt
// false
// true
