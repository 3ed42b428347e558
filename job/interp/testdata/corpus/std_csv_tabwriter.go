package main

import (
	"encoding/csv"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
)

func main() {
	r := csv.NewReader(strings.NewReader("a,b\n1,\"x,y\"\n"))
	recs, err := r.ReadAll()
	fmt.Println(recs, err)
	w := tabwriter.NewWriter(os.Stdout, 0, 8, 1, ' ', 0)
	fmt.Fprintln(w, "name\tvalue")
	fmt.Fprintln(w, "alpha\t1")
	w.Flush()
	cw := csv.NewWriter(os.Stdout)
	cw.Write([]string{"q", "has,comma"})
	cw.Flush()
}

// Output:
// [[a b] [1 x,y]] <nil>
// name  value
// alpha 1
// q,"has,comma"
