package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

func main() {
	dir, err := os.MkdirTemp("", "corpus-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "a.txt")
	os.WriteFile(p, []byte("hello\n"), 0o644)
	b, err := os.ReadFile(p)
	fmt.Printf("%q %v\n", b, err)
	f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("more\n")
	f.Close()
	st, _ := os.Stat(p)
	fmt.Println(st.Size(), st.Name(), st.IsDir())
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	fmt.Println(names)
	_, err = os.Stat(filepath.Join(dir, "nope"))
	fmt.Println(os.IsNotExist(err))
}

// Output:
// "hello\n" <nil>
// 11 a.txt false
// [a.txt sub]
// true
