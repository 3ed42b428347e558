package main

import (
	"fmt"
	"path"
	"path/filepath"
)

func main() {
	fmt.Println(filepath.Join("a", "b", "../c", "d.txt"), filepath.Ext("x.tar.gz"), filepath.Dir("/a/b/c"))
	fmt.Println(path.Base("/x/y.go"), path.Clean("a//b/./c/.."), filepath.IsAbs("/tmp"))
	m, _ := filepath.Match("*.go", "main.go")
	fmt.Println(m, filepath.ToSlash("a/b"))
	dir, file := filepath.Split("/etc/hosts")
	fmt.Println(dir, file)
}

// Output:
// a/c/d.txt .gz /a/b
// y.go a/b true
// true a/b
// /etc/ hosts
