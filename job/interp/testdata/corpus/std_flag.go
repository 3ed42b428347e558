package main

import (
	"flag"
	"fmt"
)

func main() {
	n := flag.Int("n", 3, "count")
	name := flag.String("name", "world", "who")
	flag.Parse()
	fmt.Println(*n, *name, flag.NArg())
	fs := flag.NewFlagSet("sub", flag.ContinueOnError)
	v := fs.Bool("v", false, "verbose")
	err := fs.Parse([]string{"-v", "rest"})
	fmt.Println(*v, err, fs.Args())
}

// Output:
// 3 world 0
// true <nil> [rest]
