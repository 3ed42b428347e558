package main

import (
	"os"
	"strings"
	"text/template"
)

type Item struct {
	Name  string
	Price float64
}

func main() {
	t := template.Must(template.New("t").Funcs(template.FuncMap{"up": strings.ToUpper}).Parse(
		"{{range .}}{{up .Name}}: {{printf \"%.2f\" .Price}}\n{{end}}"))
	t.Execute(os.Stdout, []Item{{"tea", 2.5}, {"cake", 4}})
}

// Output:
// TEA: 2.50
// CAKE: 4.00
