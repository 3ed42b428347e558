package interp_test

import (
	"bytes"
	"context"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warren-mesh/warren/job/interp"
	"github.com/warren-mesh/warren/job/interp/lower"
	"github.com/warren-mesh/warren/job/interp/stdlib"
)

// BenchmarkLower200 measures the lowering pass (parse, type-check against
// the linked tables, rewrite) of a 216-line program, with the package
// cache warm as it is in a long-lived group process, and prints its ratio
// to parsing the same source alone (the floor of any source pass). The
// first, cold call (building the imported packages from the tables) is
// reported as cold-ms. Goal: at most 2 ms.
func BenchmarkLower200(b *testing.B) {
	path := filepath.Join("testdata", "bench", "lower200.go")
	src, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	files := []lower.File{{Name: path, Src: src}}
	l := lower.NewLowerer(stdlib.Symbols())
	t0 := time.Now()
	if _, err := l.Lower(files); err != nil {
		b.Fatal(err)
	}
	cold := time.Since(t0)

	const parseN = 200
	t0 = time.Now()
	for range parseN {
		if _, err := parser.ParseFile(token.NewFileSet(), path, src, parser.ParseComments); err != nil {
			b.Fatal(err)
		}
	}
	parse := time.Since(t0) / parseN

	b.ResetTimer()
	for range b.N {
		if _, err := l.Lower(files); err != nil {
			b.Fatal(err)
		}
	}
	per := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(per.Microseconds())/1000, "ms/lower")
	b.ReportMetric(float64(cold.Microseconds())/1000, "cold-ms")
	b.ReportMetric(float64(parse.Microseconds())/1000, "parse-ms")
	b.ReportMetric(float64(per)/float64(parse), "x-parse")
}

// loopNanos runs cpuloop.go, which prints its own loop time.
func loopNanos(b *testing.B, mode interp.Mode, opts ...interp.Option) float64 {
	b.Helper()
	var out bytes.Buffer
	_, err := interp.Run(context.Background(), interp.Program{Path: prog("cpuloop.go"), Stdout: &out}, mode, opts...)
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(out.String())
	if len(f) != 2 {
		b.Fatalf("cpuloop printed %q", out.String())
	}
	ns, _ := strconv.ParseFloat(f[1], 64)
	return ns
}

// BenchmarkCPULoop compares the time of the same CPU-bound loop
// interpreted and compiled, measured inside the program (no start-up),
// in the same run, and prints the ratio.
func BenchmarkCPULoop(b *testing.B) {
	if _, err := exec.LookPath("go"); err != nil {
		b.Skip("no go toolchain")
	}
	cache := b.TempDir()
	loopNanos(b, interp.Compiled, interp.WithBuildCache(cache)) // build once
	var in, co float64
	for range b.N {
		in += loopNanos(b, interp.Interpreted)
		co += loopNanos(b, interp.Compiled, interp.WithBuildCache(cache))
	}
	b.ReportMetric(in/float64(b.N)/1e6, "interp-ms")
	b.ReportMetric(co/float64(b.N)/1e6, "compiled-ms")
	b.ReportMetric(in/co, "x-slower")
}

// BenchmarkCompiledStart measures compiled mode's start: the first run of
// a program (go build into an empty warren cache; the Go build cache may
// be warm) against a run from the warren cache, until the program exited,
// and prints the ratio.
func BenchmarkCompiledStart(b *testing.B) {
	if _, err := exec.LookPath("go"); err != nil {
		b.Skip("no go toolchain")
	}
	var first, cached time.Duration
	p := interp.Program{Path: prog("exit3.go")}
	for range b.N {
		cache := b.TempDir()
		t0 := time.Now()
		if _, err := interp.Run(context.Background(), p, interp.Compiled, interp.WithBuildCache(cache)); err != nil {
			b.Fatal(err)
		}
		first += time.Since(t0)
		t0 = time.Now()
		if _, err := interp.Run(context.Background(), p, interp.Compiled, interp.WithBuildCache(cache)); err != nil {
			b.Fatal(err)
		}
		cached += time.Since(t0)
	}
	b.ReportMetric(float64(first.Milliseconds())/float64(b.N), "first-ms")
	b.ReportMetric(float64(cached.Microseconds())/1000/float64(b.N), "cached-ms")
	b.ReportMetric(float64(first)/float64(cached), "x-first/cached")
}

// BenchmarkRunHello measures a whole interpreted run of a tiny program
// (interpreter creation, symbol tables, lowering, compile, run), the
// floor of an interpreted job's start, against a compiled run from the
// build cache (a process start) in the same run.
func BenchmarkRunHello(b *testing.B) {
	p := interp.Program{Path: prog("exit3.go")}
	var in, co time.Duration
	cache := b.TempDir()
	if _, err := exec.LookPath("go"); err == nil {
		if _, _, err := interp.Build(context.Background(), p, interp.WithBuildCache(cache)); err != nil {
			b.Fatal(err)
		}
	}
	for range b.N {
		t0 := time.Now()
		if _, err := interp.Run(context.Background(), p, interp.Interpreted); err != nil {
			b.Fatal(err)
		}
		in += time.Since(t0)
		t0 = time.Now()
		if _, err := interp.Run(context.Background(), p, interp.Compiled, interp.WithBuildCache(cache)); err != nil {
			b.Fatal(err)
		}
		co += time.Since(t0)
	}
	b.ReportMetric(float64(in.Microseconds())/1000/float64(b.N), "interp-ms")
	b.ReportMetric(float64(co.Microseconds())/1000/float64(b.N), "compiled-cached-ms")
	b.ReportMetric(float64(in)/float64(co), "x-interp/compiled")
}
