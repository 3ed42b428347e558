package lower_test

import (
	"bytes"
	"go/parser"
	"go/token"
	"strings"
	"testing"

	"github.com/warren-mesh/warren/job/interp/lower"
	"github.com/warren-mesh/warren/job/interp/stdlib"
)

var lw = lower.NewLowerer(stdlib.Symbols())

func lowerSrc(t testing.TB, src string) *lower.Result {
	t.Helper()
	r, err := lw.Lower([]lower.File{{Name: "/p/main.go", Src: []byte(src)}})
	if err != nil {
		t.Fatalf("Lower: %v", err)
	}
	return r
}

// TestRewrites checks each rewrite on a small program: what the user's
// line becomes, that no line moved, and that the result still parses.
func TestRewrites(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       []string // substrings of the lowered main file
		helper     []string // substrings of the helper file
	}{
		{"range int", `for i := range 3 { println(i) }`, []string{"for __wi", "< __wn", "i := __wi"}, nil},
		{"range func", `for x := range func(y func(int) bool) { y(1) } { if x > 0 { break }; println(x) }`,
			[]string{"(func(x int) bool", "return false", "return true })"}, nil},
		{"loop var captured", `var fs []func() int; for i := 0; i < 3; i++ { fs = append(fs, func() int { return i }) }; _ = fs`,
			[]string{"i := i;"}, nil},
		{"loop var not captured", `s := 0; for i := 0; i < 3; i++ { s += i }; _ = s`, nil, nil},
		{"min max", `a, b := 1, 2; println(min(a, b), max(a, b, 3))`, []string{"__wmin", "__wmax"}, []string{"ys ...int"}},
		{"min const", `const c = min(4, 2); println(c)`, []string{"const c = 2"}, nil},
		{"clear", `m := map[string]int{}; clear(m)`, []string{"delete(x, k)"}, nil},
		{"slices", `s := []int{2, 1}; slices.Sort(s)`, []string{"__w_slices_Sort_"}, []string{"func __w_slices_Sort_", "(x []int)"}},
		{"go guard", `go func() { println("x") }()`, []string{"__w_goPanic(recover())"}, nil},
		{"afterfunc guard", `time.AfterFunc(0, func() {})`, []string{"__w_guardFunc(func() {})"}, []string{"func __w_guardFunc"}},
		{"recover", `defer func() { _ = recover() }()`, []string{"__w_recovered(recover())"}, nil},
		{"method value", `t := time.Unix(0, 0); f := t.Unix; _ = f`, []string{"func(__wmr", "{ return __wmr"}, nil},
		{"method call", `t := time.Unix(0, 0); _ = t.Unix()`, []string{"t.Unix()"}, nil},
		{"range string", `for i, r := range "hé" { println(i, r) }`, []string{"__w_runeAt(__wss", "i := __wsi"}, []string{"func __w_runeAt"}},
		{"embedded interface", `type N interface{ M() }; type S struct{ N }; var s S; if s.N != nil { s.M() }`, []string{"s.N.M()"}, nil},
		{"defer literal with args", `n := 1; defer func(k int) { println(k) }(n)`, []string{"defer func(k int) { println(k) }(__wga"}, nil},
		{"defer pointer receiver", `var t time.Timer; d := time.Second; defer t.Reset(d)`, []string{":= (&t), (d)"}, nil},
		{"main renamed", ``, []string{"func __w_main()"}, []string{"func main() { __w_main();"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "package main\n\nimport (\n\t\"slices\"\n\t\"time\"\n)\n\nvar _ = slices.Contains[[]int]\nvar _ = time.Second\n\nfunc main() {\n\t" + tc.body + "\n}\n"
			r := lowerSrc(t, src)
			got := string(r.Files[0].Src)
			if strings.Count(got, "\n") != strings.Count(src, "\n") {
				t.Errorf("line count changed: %d -> %d\n%s", strings.Count(src, "\n"), strings.Count(got, "\n"), got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("lowered source lacks %q:\n%s", w, got)
				}
			}
			for _, w := range tc.helper {
				if !bytes.Contains(r.Helper, []byte(w)) {
					t.Errorf("helper lacks %q:\n%s", w, r.Helper)
				}
			}
			fset := token.NewFileSet()
			if _, err := parser.ParseFile(fset, "main.go", got, 0); err != nil {
				t.Errorf("lowered source does not parse: %v\n%s", err, got)
			}
			if _, err := parser.ParseFile(fset, "helper.go", r.Helper, 0); err != nil {
				t.Errorf("helper does not parse: %v\n%s", err, r.Helper)
			}
		})
	}
}

func TestSyntaxErrorIsReported(t *testing.T) {
	_, err := lw.Lower([]lower.File{{Name: "/p/bad.go", Src: []byte("package main\nfunc main() {\n")}})
	if err == nil || !strings.Contains(err.Error(), "bad.go:2") {
		t.Fatalf("err = %v, want a position in bad.go", err)
	}
	_, err = lw.Lower([]lower.File{{Name: "/p/lib.go", Src: []byte("package lib\n")}})
	if err == nil || !strings.Contains(err.Error(), "want package main") {
		t.Fatalf("err = %v", err)
	}
}

// What go build refuses for unused names (imported under a name of its
// own too), the lowering refuses too (the interpreter runs such programs),
// in source order; used ones pass.
func TestUnusedNamesAreErrors(t *testing.T) {
	src := "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\nfunc main() {\n\tx := 1\n\tfmt.Println()\n}\n"
	_, err := lw.Lower([]lower.File{{Name: "/p/unused.go", Src: []byte(src)}})
	if err == nil {
		t.Fatal("no error for an unused variable and import")
	}
	want := "/p/unused.go:5:2: \"os\" imported and not used\n/p/unused.go:9:2: declared and not used: x"
	if err.Error() != want {
		t.Fatalf("error:\n%v\nwant:\n%s", err, want)
	}
	// An import under a name of its own: "fmt" imported as f and not used.
	if _, err := lw.Lower([]lower.File{{Name: "/p/named.go", Src: []byte("package main\n\nimport f \"fmt\"\n\nfunc main() {}\n")}}); err == nil {
		t.Error("no error for an unused named import (go build: \"fmt\" imported as f and not used)")
	}
	lowerSrc(t, "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tx := 1\n\tfmt.Println(x)\n\tvar _ = 2\n}\n")
}

// FuzzLower: lowering any source never panics, and a program it accepts
// keeps its line count and still parses.
func FuzzLower(f *testing.F) {
	f.Add("package main\nfunc main() { for i := range 10 { go println(i) } }\n")
	f.Add("package main\nimport \"slices\"\nfunc main() { s := []int{1}; slices.Sort(s); println(min(1, 2)) }\n")
	f.Add("package main\nfunc f(y func(int) bool) {}\nfunc main() { for x := range f { defer println(x); return } }\n")
	f.Fuzz(func(t *testing.T, src string) {
		r, err := lw.Lower([]lower.File{{Name: "/p/main.go", Src: []byte(src)}})
		if err != nil {
			return
		}
		got := string(r.Files[0].Src)
		if strings.Count(got, "\n") != strings.Count(src, "\n") {
			t.Fatalf("line count changed:\n%s\n---\n%s", src, got)
		}
	})
}
