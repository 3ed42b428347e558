package interp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/warren-mesh/warren/job/interp/lower"
	"github.com/warren-mesh/warren/job/interp/servicesyms"
	"github.com/warren-mesh/warren/job/interp/stdlib"
)

// Mode says how a program runs.
type Mode string

// The modes a program can run in.
const (
	Interpreted Mode = "interpreted" // in-process, with Yaegi
	Compiled    Mode = "compiled"    // built with the Go toolchain, run as a child process
	Auto        Mode = "auto"        // interpreted, falling back to compiled when the interpreter rejects the program
)

// ParseMode parses a mode name; the empty string is Auto.
func ParseMode(s string) (Mode, error) {
	switch Mode(strings.ToLower(strings.TrimSpace(s))) {
	case "", Auto:
		return Auto, nil
	case Interpreted, "interp", "i":
		return Interpreted, nil
	case Compiled, "compile", "c":
		return Compiled, nil
	}
	return "", fmt.Errorf("interp: parse mode: %w: %q (want interpreted, compiled or auto)", ErrBadMode, s)
}

// Sentinel errors callers can test with errors.Is.
var (
	ErrBadMode   = errors.New("unknown mode")
	ErrNoProgram = errors.New("no Go program")
	ErrNoGo      = errors.New("no Go toolchain on this node (go not found in PATH)")
	// ErrRejected marks an *Error raised before the program ran: the
	// interpreter could not compile it. Auto mode falls back on it.
	ErrRejected = errors.New("rejected by the interpreter")
)

// Program is what to run and what it sees.
type Program struct {
	Path   string    // a .go file, or the directory of a main package
	Args   []string  // arguments after the program name (os.Args[1:])
	Env    []string  // environment, KEY=VALUE; nil means empty
	Dir    string    // working directory; empty means the host's
	Stdin  io.Reader // nil reads nothing
	Stdout io.Writer // nil discards
	Stderr io.Writer // nil discards
}

// Result says how a program ended.
type Result struct {
	ExitCode int
	ModeUsed Mode
	Note     string // e.g. why auto fell back to compiled
}

// Error is a compile error or a panic in the user's program, naming the
// user's own file and line.
type Error struct {
	File string // the user's file (absolute when the program was given so)
	Line int    // 1-based; 0 when unknown
	Col  int    // 1-based; 0 when unknown
	Msg  string // e.g. "undefined: foo" or "panic: boom"
	// Panic is the value of a panic, nil for a compile error.
	Panic any
	// Goroutine is true when the panic happened in a goroutine other than main's.
	Goroutine bool
	err       error // wrapped cause (ErrRejected for compile-time rejection)
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
			if e.Col > 0 {
				b.WriteString(":" + strconv.Itoa(e.Col))
			}
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (e *Error) Unwrap() error { return e.err }

// Option configures Run.
type Option func(*options)

type options struct {
	buildCache string
	log        *slog.Logger
	goTool     string
	lowerer    *lower.Lowerer
	symbols    []map[string]map[string]reflect.Value
}

// WithBuildCache sets the directory compiled mode caches binaries in
// (default: warren/builds under the user cache directory).
func WithBuildCache(dir string) Option { return func(o *options) { o.buildCache = dir } }

// WithLogger sets the logger for what Run decides (fallbacks, cache hits).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithGoTool sets the go command compiled mode uses (default: "go" from PATH).
func WithGoTool(path string) Option { return func(o *options) { o.goTool = path } }

// WithSymbols makes more native packages importable by interpreted code, in
// the layout Yaegi's extract tool generates: "import/path/name" -> symbol ->
// value (for example the tables of job/interp/service).
func WithSymbols(s map[string]map[string]reflect.Value) Option {
	return func(o *options) { o.symbols = append(o.symbols, s) }
}

// defaultLowerer caches the type information of imported packages, which
// is immutable once built, for every Run that does not bring its own. It is
// built on first use so that processes that never interpret skip the tables.
var defaultLowerer = sync.OnceValue(func() *lower.Lowerer {
	return lower.NewLowerer(stdlib.Symbols(), servicesyms.Symbols)
})

// WithLowerer makes Run use l (and its import cache) for the lowering pass.
func WithLowerer(l *lower.Lowerer) Option { return func(o *options) { o.lowerer = l } }

// Run runs p in mode (Auto when empty) and waits for it to end. A program
// that ends by itself, with any exit code, gives a nil error; a compile
// error or a panic gives an *Error (and exit code 2 for a panic, as Go
// does). Cancelling ctx stops the program and returns ctx's error.
func Run(ctx context.Context, p Program, mode Mode, opts ...Option) (Result, error) {
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, f := range opts {
		f(&o)
	}
	if o.lowerer == nil {
		o.lowerer = defaultLowerer()
	}
	if mode == "" {
		mode = Auto
	}
	if _, err := ParseMode(string(mode)); err != nil {
		return Result{}, err
	}
	abs, err := filepath.Abs(p.Path)
	if err != nil {
		return Result{}, fmt.Errorf("interp: run %s: %w", p.Path, err)
	}
	p.Path = abs
	if p.Stdout == nil {
		p.Stdout = io.Discard
	}
	if p.Stderr == nil {
		p.Stderr = io.Discard
	}
	switch mode {
	case Interpreted:
		return runInterpreted(ctx, p, &o)
	case Compiled:
		return runCompiled(ctx, p, &o)
	}
	res, err := runInterpreted(ctx, p, &o)
	if err == nil || !errors.Is(err, ErrRejected) {
		return res, err
	}
	if _, lerr := lookGo(&o); lerr != nil {
		return res, err
	}
	note := "interpreter rejected the program (" + err.Error() + "); ran it compiled"
	o.log.Debug("interp: auto mode falls back to compiled", "path", p.Path, "reason", err.Error())
	// Say it where the person running the program looks: its stderr is the
	// terminal for `warren exec` and the job log for a daemon job.
	fmt.Fprintf(p.Stderr, "warren: %s\n", note)
	res, cerr := runCompiled(ctx, p, &o)
	res.Note = note
	return res, cerr
}

// sourceFiles lists the Go files of the program at path (a file or a
// package directory), skipping tests.
func sourceFiles(path string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("interp: %w", err)
	}
	if !fi.IsDir() {
		if !strings.HasSuffix(path, ".go") {
			return nil, fmt.Errorf("interp: %s: %w (want a .go file or a package directory)", path, ErrNoProgram)
		}
		return []string{path}, nil
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("interp: %w", err)
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_") {
			continue
		}
		out = append(out, filepath.Join(path, n))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("interp: %s: %w", path, ErrNoProgram)
	}
	return out, nil
}
