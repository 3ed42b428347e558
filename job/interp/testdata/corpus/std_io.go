package main

import (
	"fmt"
	"io"
	"strings"
)

type upper struct{ r io.Reader }

func (u upper) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	for i := 0; i < n; i++ {
		if p[i] >= 'a' && p[i] <= 'z' {
			p[i] -= 32
		}
	}
	return n, err
}

func main() {
	b, _ := io.ReadAll(upper{strings.NewReader("hello io")})
	fmt.Println(string(b))
	var sb strings.Builder
	n, _ := io.Copy(&sb, io.LimitReader(strings.NewReader("abcdef"), 3))
	fmt.Println(n, sb.String())
	pr, pw := io.Pipe()
	go func() {
		fmt.Fprint(pw, "through pipe")
		pw.Close()
	}()
	out, _ := io.ReadAll(pr)
	fmt.Println(string(out))
	mr := io.MultiReader(strings.NewReader("a"), strings.NewReader("b"))
	all, _ := io.ReadAll(mr)
	fmt.Println(string(all))
	_, err := io.ReadFull(strings.NewReader("ab"), make([]byte, 4))
	fmt.Println(err)
}

// Output:
// HELLO IO
// 3 abc
// through pipe
// ab
// unexpected EOF
