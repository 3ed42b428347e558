package lower_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/warren-mesh/warren/job/interp/lower"
	"github.com/warren-mesh/warren/job/interp/stdlib"
)

// programs are the interpreter's test programs, one file each, and the
// two files of testdata/multi as one.
func programs(t *testing.T) [][]lower.File {
	t.Helper()
	var out [][]lower.File
	for _, dir := range []string{"corpus", "run", "bench"} {
		paths, err := filepath.Glob(filepath.Join("..", "testdata", dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range paths {
			src, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, []lower.File{{Name: p, Src: src}})
		}
	}
	var multi []lower.File
	for _, n := range []string{"main.go", "util.go"} {
		p := filepath.Join("..", "testdata", "multi", n)
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		multi = append(multi, lower.File{Name: p, Src: src})
	}
	if len(out) < 100 {
		t.Fatalf("only %d programs", len(out))
	}
	return append(out, multi)
}

// programsLowered returns the test programs and what a new Lowerer makes
// of each.
func programsLowered(t *testing.T) ([][]lower.File, []string) {
	t.Helper()
	progs := programs(t)
	syms := stdlib.Symbols()
	want := make([]string, len(progs))
	for i, p := range progs {
		want[i] = result(lower.NewLowerer(syms).Lower(p))
	}
	return progs, want
}

func result(r *lower.Result, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	var b strings.Builder
	for _, f := range r.Files {
		fmt.Fprintf(&b, "== %s\n%s\n", f.Name, f.Src)
	}
	fmt.Fprintf(&b, "== helper\n%s\n== unsupported\n%s\n", r.Helper, strings.Join(r.Unsupported, "\n"))
	return b.String()
}

// TestReusedLowerer: a Lowerer that lowered other programs before (its
// package cache, template checks, instance plans, type information maps
// and types.Context reused) lowers each program as a new one does, in any
// order, also past a change of types.Context.
func TestReusedLowerer(t *testing.T) {
	progs, want := programsLowered(t)
	l := lower.NewLowerer(stdlib.Symbols())
	order := make([]int, len(progs))
	for i := range order {
		order[i] = i
	}
	for round := range 3 {
		if round == 1 {
			slices.Reverse(order)
		}
		for _, i := range order {
			if got := result(l.Lower(progs[i])); got != want[i] {
				t.Errorf("round %d, %s: lowered by a reused Lowerer:\n%s\nby a new one:\n%s", round, progs[i][0].Name, got, want[i])
			}
		}
	}
}

// TestInstancesPerProgram: two programs with a type of the same name but
// of different kinds, one after the other on one Lowerer, each get the
// instance of their own type (min of a float compares NaNs).
func TestInstancesPerProgram(t *testing.T) {
	prog := func(typ string) []lower.File {
		return []lower.File{{Name: "/p/main.go", Src: []byte(`package main

import "slices"

type T ` + typ + `

func main() {
	m := slices.Max([]T{1, 2})
	println(min(m, m+1))
}
`)}}
	}
	l := lower.NewLowerer(stdlib.Symbols())
	for i := range 4 {
		typ, nan := "int", false
		if i%2 == 1 {
			typ, nan = "float64", true
		}
		r, err := l.Lower(prog(typ))
		if err != nil {
			t.Fatal(err)
		}
		if got := bytes.Contains(r.Helper, []byte("x != x")); got != nan {
			t.Errorf("type T %s: min helper compares NaNs: %v, want %v:\n%s", typ, got, nan, r.Helper)
		}
		if !bytes.Contains(r.Helper, []byte("func __w_slices_Max_")) {
			t.Errorf("type T %s: no slices.Max instance:\n%s", typ, r.Helper)
		}
	}
}

// TestConcurrentLowerers: Lowerers share the templates' syntax trees;
// several lowering at once (run with -race) each give what one alone does.
func TestConcurrentLowerers(t *testing.T) {
	progs, want := programsLowered(t)
	syms := stdlib.Symbols()
	lowerAtOnce(t, progs, want, func() *lower.Lowerer { return lower.NewLowerer(syms) }, "alongside other Lowerers")
}

// TestSharedLowerer: a group host lowers the programs of all its jobs
// with one Lowerer; several goroutines lowering through it at once (run
// with -race) each get what a new Lowerer gives.
func TestSharedLowerer(t *testing.T) {
	progs, want := programsLowered(t)
	l := lower.NewLowerer(stdlib.Symbols())
	lowerAtOnce(t, progs, want, func() *lower.Lowerer { return l }, "through a shared Lowerer")
}

// lowerAtOnce lowers every program on 4 goroutines at once, each with the
// Lowerer next gives it and starting at a different program, and compares
// each result with want (what a new Lowerer gives).
func lowerAtOnce(t *testing.T, progs [][]lower.File, want []string, next func() *lower.Lowerer, how string) {
	var wg sync.WaitGroup
	for g := range 4 {
		l := next()
		wg.Go(func() {
			for k := range progs {
				i := (k + g*len(progs)/4) % len(progs)
				if got := result(l.Lower(progs[i])); got != want[i] {
					t.Errorf("%s: lowered %s:\n%s\nby a new one:\n%s", progs[i][0].Name, how, got, want[i])
				}
			}
		})
	}
	wg.Wait()
}
