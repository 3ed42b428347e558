package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

func main() {
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		fmt.Println(strings.ToUpper(sc.Text()))
	}
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(w, "buffered")
	w.Flush()
}

// Output:
// LINE ONE
// LINE TWO
// buffered
