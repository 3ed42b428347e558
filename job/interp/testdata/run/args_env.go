package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	fmt.Println("args:", os.Args[1:])
	fmt.Println("env:", os.Getenv("GREETING"), os.Getenv("HOME") == "")
	wd, _ := os.Getwd()
	fmt.Println("dir:", filepath.Base(wd))
	b, err := os.ReadFile("data.txt")
	fmt.Printf("file: %q %v\n", b, err)
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		fmt.Println("in:", sc.Text())
	}
	fmt.Fprintln(os.Stderr, "to stderr")
}
