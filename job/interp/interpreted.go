package interp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"

	yaegi "github.com/traefik/yaegi/interp"

	"github.com/warren-mesh/warren/job/interp/lower"
	"github.com/warren-mesh/warren/job/interp/rt"
	"github.com/warren-mesh/warren/job/interp/servicesyms"
	"github.com/warren-mesh/warren/job/interp/stdlib"
)

// Yaegi knows the imports of a file by the base name of the file (and takes
// the base name of the first file for a merged AST), so every file is
// parsed under the name "<its path>/" + sameBase and positions are mapped
// back by realName.
const sameBase = "__warren__.go"

// helperFile names the file of helpers the lowering pass adds.
const helperFile = "<warren>"

func realName(s string) string { return strings.TrimSuffix(s, "/"+sameBase) }

// run is the state of one interpreted program.
type run struct {
	p    Program
	name string // os.Args[0]

	mu       sync.Mutex
	dir      string // working directory as the program sees it
	exitCode int
	fatal    *Error
	ended    chan struct{} // closed on os.Exit, a goroutine's panic or main's return
	endOnce  sync.Once
	released chan struct{} // closed when Run returns: hooks blocked in the program end
	chain    []panicFrame  // positions Yaegi reported for the current panic
	mainDone bool
}

type panicFrame struct {
	file      string
	line, col int
	fn        string
}

func progName(path string) string {
	return strings.TrimSuffix(filepath.Base(path), ".go")
}

func runInterpreted(ctx context.Context, p Program, o *options) (res Result, err error) {
	res.ModeUsed = Interpreted
	paths, err := sourceFiles(p.Path)
	if err != nil {
		return res, err
	}
	var files []lower.File
	for _, fp := range paths {
		b, err := os.ReadFile(fp)
		if err != nil {
			return res, fmt.Errorf("interp: %w", err)
		}
		files = append(files, lower.File{Name: fp, Src: b})
	}
	low, err := o.lowerer.Lower(files)
	if err != nil {
		res.ExitCode = 1
		return res, toError(err, false)
	}

	r := &run{p: p, name: progName(p.Path), dir: p.Dir, ended: make(chan struct{}), released: make(chan struct{})}
	if r.dir == "" {
		if r.dir, err = os.Getwd(); err != nil {
			return res, fmt.Errorf("interp: getwd: %w", err)
		}
	} else if r.dir, err = filepath.Abs(r.dir); err != nil {
		return res, fmt.Errorf("interp: %w", err)
	}
	defer close(r.released)

	sio, err := newStdio(p)
	if err != nil {
		return res, err
	}
	defer sio.close()

	it := yaegi.New(yaegi.Options{
		Stdin:  sio.in,
		Stdout: sio.out,
		Stderr: panicWriter{r}, // Yaegi's own panic reports; the program's stderr is overridden below
		Args:   append([]string{r.name}, p.Args...),
		Env:    p.Env,
		GoPath: "/nonexistent/warren-gopath", // imports resolve to native tables only
	})
	// Link only the packages the program imports (see selectSymbols).
	imports := importSet(low)
	prepareDefaultMux(imports)
	if err := useSymbols(it, stdlibFor(stdlib.Symbols(), imports)); err != nil {
		return res, fmt.Errorf("interp: load stdlib: %w", err)
	}
	if err := useSymbols(it, selectSymbols(servicesyms.Symbols, imports)); err != nil {
		return res, fmt.Errorf("interp: load service symbols: %w", err)
	}
	for _, s := range o.symbols {
		if err := useSymbols(it, selectSymbols(s, imports)); err != nil {
			return res, fmt.Errorf("interp: load symbols: %w", err)
		}
	}
	if err := it.Use(r.overrides(sio)); err != nil {
		return res, fmt.Errorf("interp: load overrides: %w", err)
	}

	prog, err := compile(it, low)
	if err != nil {
		res.ExitCode = 1
		cerr := toError(err, true)
		var e *Error
		if !errors.As(cerr, &e) || e.File != "" {
			return res, cerr
		}
		{
			// Yaegi panicked without a position: name the construct the
			// lowering could not rewrite, or at least the program.
			e.File = p.Path
			if len(low.Unsupported) > 0 {
				if m := posRE.FindStringSubmatch(low.Unsupported[0]); m != nil {
					e.File = m[1]
					e.Line, _ = strconv.Atoi(m[2])
					e.Col, _ = strconv.Atoi(m[3])
					e.Msg += " (not lowered: " + m[4] + ")"
				}
			}
		}
		return res, e
	}

	if err := ctx.Err(); err != nil {
		// Yaegi would lose a cancellation that comes before it starts.
		res.ExitCode = -1
		return res, fmt.Errorf("interp: run %s: %w", p.Path, err)
	}
	ictx, cancel := context.WithCancel(ctx)
	defer cancel()
	type evalEnd struct{ err error }
	done := make(chan evalEnd, 1)
	go func() {
		// ExecuteWithContext recovers panics of the main goroutine; this
		// recover is for Yaegi's own code paths around it.
		defer func() {
			if v := recover(); v != nil {
				done <- evalEnd{yaegi.Panic{Value: v}}
			}
		}()
		_, err := it.ExecuteWithContext(ictx, prog)
		done <- evalEnd{err}
	}()

	var evalErr error
	select {
	case e := <-done:
		evalErr = e.err
	case <-r.ended:
	case <-ctx.Done():
	}
	// Stop every goroutine of the program: Yaegi checks between instructions.
	cancel()
	if evalErr == nil {
		select {
		case e := <-done:
			evalErr = e.err
		default:
		}
	}
	sio.flush()

	r.mu.Lock()
	fatal, exitCode := r.fatal, r.exitCode
	r.mu.Unlock()
	switch {
	case fatal != nil:
		res.ExitCode = 2
		return res, fatal
	case isEnded(r.ended):
		res.ExitCode = exitCode
		return res, nil
	case ctx.Err() != nil:
		res.ExitCode = -1
		return res, fmt.Errorf("interp: run %s: %w", p.Path, ctx.Err())
	case evalErr != nil:
		var pe yaegi.Panic
		if errors.As(evalErr, &pe) {
			res.ExitCode = 2
			return res, r.panicError(pe.Value, false)
		}
		if errors.Is(evalErr, context.Canceled) {
			res.ExitCode = -1
			return res, fmt.Errorf("interp: run %s: %w", p.Path, evalErr)
		}
		res.ExitCode = 2
		return res, toError(evalErr, false)
	}
	return res, nil
}

func isEnded(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// useSymbols loads a table, recovering from a table Yaegi cannot digest.
func useSymbols(it *yaegi.Interpreter, s map[string]map[string]reflect.Value) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	return it.Use(s)
}

// compile parses the lowered files with the interpreter's file set (names
// are the user's paths, lines unchanged by lowering), merges them into one
// file (Yaegi compiles a package from one AST) and compiles it.
func compile(it *yaegi.Interpreter, low *lower.Result) (prog *yaegi.Program, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("interpreter failed to compile the program: %v", v)
		}
	}()
	fset := it.FileSet()
	merged := &ast.File{Name: ast.NewIdent("main")}
	var imports []ast.Spec
	var decls []ast.Decl
	// All files share one import scope (see sameBase): an import repeated
	// by several files is kept once; one name for two packages is an error.
	seen := map[string]string{} // import name -> path
	add := func(name string, src []byte) error {
		f, err := parser.ParseFile(fset, name+"/"+sameBase, src, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		if f.Name.Name != "main" {
			return fmt.Errorf("%s: package %s is not a main package", name, f.Name.Name)
		}
		if merged.Package == token.NoPos {
			merged.Package, merged.Name = f.Package, f.Name
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.IMPORT {
				decls = append(decls, d)
				continue
			}
			for _, sp := range gd.Specs {
				is := sp.(*ast.ImportSpec)
				path, _ := strconv.Unquote(is.Path.Value)
				n := filepath.Base(path)
				if is.Name != nil {
					n = is.Name.Name
				}
				if n == "_" || n == "." {
					imports = append(imports, is)
					continue
				}
				if prev, ok := seen[n]; ok {
					if prev != path {
						return fmt.Errorf("%s: %s imported as %s here and %s in another file: the interpreter needs one name per package", realName(fset.Position(is.Pos()).String()), n, path, prev)
					}
					continue
				}
				seen[n] = path
				imports = append(imports, is)
			}
		}
		return nil
	}
	for _, f := range low.Files {
		if err := add(f.Name, f.Src); err != nil {
			return nil, err
		}
	}
	if err := add(helperFile, low.Helper); err != nil {
		return nil, fmt.Errorf("lowered helpers: %w", err)
	}
	merged.Decls = append([]ast.Decl{&ast.GenDecl{Tok: token.IMPORT, Specs: imports}}, decls...)
	return it.CompileAST(merged)
}

var posRE = regexp.MustCompile(`^(.+?\.go):(\d+):(\d+): ?(.*)$`)

// toError turns a parse or interpreter error into an *Error with the
// user's position.
func toError(err error, rejected bool) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	out := &Error{Msg: strings.ReplaceAll(err.Error(), "/"+sameBase, "")}
	var el scanner.ErrorList
	if errors.As(err, &el) && len(el) > 0 {
		out.File, out.Line, out.Col, out.Msg = realName(el[0].Pos.Filename), el[0].Pos.Line, el[0].Pos.Column, el[0].Msg
	} else if m := posRE.FindStringSubmatch(firstLine(err.Error())); m != nil {
		out.File = realName(m[1])
		out.Line, _ = strconv.Atoi(m[2])
		out.Col, _ = strconv.Atoi(m[3])
		out.Msg = strings.ReplaceAll(m[4]+strings.TrimPrefix(err.Error(), firstLine(err.Error())), "/"+sameBase, "")
	}
	if rejected {
		out.err = fmt.Errorf("%w: %w", ErrRejected, err)
	} else {
		out.err = err
	}
	return out
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// panicWriter receives what Yaegi writes to its stderr: one line per frame
// unwound by a panic, innermost first ("file:line:col: panic: main.f(...)").
type panicWriter struct{ r *run }

var panicLineRE = regexp.MustCompile(`^(.+?):(\d+):(\d+): panic: (.*)\(\.\.\.\)$`)

func (w panicWriter) Write(b []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		m := panicLineRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		line, _ := strconv.Atoi(m[2])
		col, _ := strconv.Atoi(m[3])
		w.r.mu.Lock()
		w.r.chain = append(w.r.chain, panicFrame{file: realName(m[1]), line: line, col: col, fn: m[4]})
		w.r.mu.Unlock()
	}
	return len(b), nil
}

// panicError builds the *Error of a panic that ended the program, at the
// innermost frame of the current chain that is in the user's files.
func (r *run) panicError(v any, goroutine bool) *Error {
	r.mu.Lock()
	chain := r.chain
	r.mu.Unlock()
	e := &Error{Panic: v, Goroutine: goroutine, Msg: "panic: " + panicString(v)}
	for _, f := range chain {
		if f.file == helperFile || strings.HasPrefix(f.file, "<") {
			continue
		}
		e.File, e.Line, e.Col = f.file, f.line, f.col
		break
	}
	if e.File == "" {
		e.File = r.p.Path
	}
	if goroutine {
		e.Msg += " (in a goroutine)"
	}
	return e
}

// panicString prints a panic value as the Go runtime does.
func panicString(v any) string {
	switch x := v.(type) {
	case error:
		return x.Error()
	case fmt.Stringer:
		return x.String()
	case string:
		return x
	}
	rv := reflect.ValueOf(v)
	if rv.IsValid() && rv.Type().Name() != "" && rv.Type().PkgPath() != "" {
		return fmt.Sprintf("%s(%v)", rv.Type(), v)
	}
	return fmt.Sprint(v)
}

// end records how the program ended, once.
func (r *run) end(code int, fatal *Error) {
	r.endOnce.Do(func() {
		r.mu.Lock()
		r.exitCode, r.fatal = code, fatal
		r.mu.Unlock()
		close(r.ended)
	})
}

// block parks the calling goroutine of the program (it called os.Exit, or
// panicked in a goroutine, or main returned) until Run returns, then ends
// it without running any more of the program: by then the interpreter is
// stopped, so the deferred calls Goexit runs do nothing.
func (r *run) block() {
	<-r.released
	runtimeGoexit()
}

// stdio holds the streams the program sees: real files, so that os.Stdout
// and friends keep their type. Output goes through pipes; flush closes them
// and waits until everything was copied.
type stdio struct {
	in, out, err *os.File
	closers      []io.Closer
	wg           sync.WaitGroup
	flushed      bool
}

func newStdio(p Program) (*stdio, error) {
	s := &stdio{}
	var err error
	switch in := p.Stdin.(type) {
	case *os.File:
		s.in = in
	case nil:
		if s.in, err = os.Open(os.DevNull); err != nil {
			return nil, fmt.Errorf("interp: stdin: %w", err)
		}
		s.closers = append(s.closers, s.in)
	default:
		pr, pw, err := os.Pipe()
		if err != nil {
			return nil, fmt.Errorf("interp: stdin: %w", err)
		}
		s.in = pr
		s.closers = append(s.closers, pr)
		// This copier ends when Stdin ends or when the program's end closes
		// the pipe; a Stdin that never returns keeps it blocked in Read.
		go func() {
			_, _ = io.Copy(pw, in)
			pw.Close()
		}()
	}
	// Always a pipe, even for a file: closing it when the program ends is
	// what keeps anything the program runs after os.Exit (a native deferred
	// call) from writing.
	out := func(w io.Writer) (*os.File, error) {
		pr, pw, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			_, _ = io.Copy(w, pr)
			pr.Close()
		}()
		s.closers = append(s.closers, pw)
		return pw, nil
	}
	if s.out, err = out(p.Stdout); err != nil {
		s.close()
		return nil, fmt.Errorf("interp: stdout: %w", err)
	}
	if sameWriter(p.Stdout, p.Stderr) {
		s.err = s.out
	} else if s.err, err = out(p.Stderr); err != nil {
		s.close()
		return nil, fmt.Errorf("interp: stderr: %w", err)
	}
	return s, nil
}

func sameWriter(a, b io.Writer) (same bool) {
	defer func() { _ = recover() }() // uncomparable writers
	return a == b
}

func (s *stdio) flush() {
	if s.flushed {
		return
	}
	s.flushed = true
	for _, c := range s.closers {
		c.Close()
	}
	s.wg.Wait()
}

func (s *stdio) close() { s.flush() }

var _ = bytes.MinRead
var _ = rt.ImportPath
