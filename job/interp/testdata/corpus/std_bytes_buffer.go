package main

import (
	"bytes"
	"fmt"
)

func main() {
	var buf bytes.Buffer
	buf.WriteString("hello ")
	buf.Write([]byte("world"))
	buf.WriteByte('!')
	fmt.Println(buf.String(), buf.Len())
	fmt.Println(bytes.Equal([]byte("a"), []byte("a")), bytes.Contains([]byte("seafood"), []byte("foo")))
	fmt.Println(string(bytes.ToUpper([]byte("abc"))), bytes.Split([]byte("a b"), []byte(" ")))
	line, err := buf.ReadString(' ')
	fmt.Printf("%q %v %q\n", line, err, buf.String())
	fmt.Println(string(bytes.TrimSpace([]byte("  x  "))))
}

// Output:
// hello world! 12
// true true
// ABC [[97] [98]]
// "hello " <nil> "world!"
// x
