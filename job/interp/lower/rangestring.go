package lower

import (
	"fmt"
	"go/ast"
	"go/token"
)

// rangeString lowers a range over a string that uses the index or the
// rune. Yaegi (interp/run.go, _range) converts the string to []rune and
// counts runes: with one variable the index is the rune's number, not its
// byte offset (`for i := range "héllo"` gives 0 1 2 3 4, Go 0 1 3 4 5), and
// with two it recomputes the offset as the length of the runes before,
// re-encoded, which is wrong after invalid UTF-8 (each bad byte counts as
// the 3 bytes of U+FFFD) and costs a pass over the string per iteration.
//
// for k, v := range x { body } becomes, on the same lines,
//
//	for i, s := 0, string(x); i < len(s); { v0, w := __w_runeAt(s, i); k := i; v := v0; i += w; body }
//
// x is evaluated once, before the loop; the offset advances before the
// body, so continue needs no post statement; k and v are new variables each
// iteration (Go 1.22), or assigned with `=` when the loop assigns.
func (lw *lowering) rangeString(f *file, r *ast.RangeStmt) {
	key, val := "", ""
	if r.Key != nil {
		key = f.node(r.Key)
	}
	if r.Value != nil {
		val = f.node(r.Value)
	}
	if key == "_" {
		key = ""
	}
	if val == "_" {
		val = ""
	}
	if key == "" && val == "" {
		return // Yaegi counts the runes right
	}
	lw.helpers.add("runeAt", "func __w_runeAt(s string, i int) (rune, int) { return "+
		lw.helpers.pkg("unicode/utf8")+".DecodeRuneInString(s[i:]) }")
	i, s, v0, w := lw.fresh("si"), lw.fresh("ss"), lw.fresh("sr"), lw.fresh("sw")
	head := fmt.Sprintf("for %s, %s := 0, string(%s); %s < len(%s); ", i, s, f.node(r.X), i, s)
	f.replace(r.For, r.Body.Lbrace, head)
	op := " = "
	if r.Tok == token.DEFINE {
		op = " := "
	}
	body := fmt.Sprintf(" %s, %s := __w_runeAt(%s, %s);", v0, w, s, i)
	bind := func(name, from string) {
		body += " " + name + op + from + ";"
		if op == " := " {
			body += " _ = " + name + ";"
		}
	}
	if key != "" {
		bind(key, i)
	}
	if val != "" {
		bind(val, v0)
	} else {
		body += " _ = " + v0 + ";"
	}
	body += " " + i + " += " + w + ";"
	f.insert(r.Body.Lbrace+1, body)
}
