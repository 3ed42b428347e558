package main

import (
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	os.Setenv("WARREN_TEST_VAR", "v1")
	fmt.Println(os.Getenv("WARREN_TEST_VAR"), os.Getenv("WARREN_CORPUS"))
	_, ok := os.LookupEnv("WARREN_SURELY_UNSET")
	fmt.Println(ok, len(os.Args), filepath.Base(os.Args[0]) != "")
	fmt.Println(os.ExpandEnv("x=${WARREN_TEST_VAR}"))
}

// Output:
// v1 1
// false 1 true
// x=v1
