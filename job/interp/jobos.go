package interp

import (
	"flag"
	"fmt"
	"go/constant"
	"io/fs"
	"log"
	"log/slog"
	"maps"
	"math/bits"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/warren-mesh/warren/job/interp/rt"
	"github.com/warren-mesh/warren/job/interp/stdlib"
)

var runtimeGoexit = runtime.Goexit

// abs resolves a path the program gave against its own working directory.
func (r *run) abs(name string) string {
	if name == "" || filepath.IsAbs(name) {
		return name
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return filepath.Join(r.dir, name)
}

// exit ends the program with code, as os.Exit does: nothing of the program
// runs after it (no deferred calls), and the host process goes on.
func (r *run) exit(code int) {
	r.end(code, nil)
	r.block()
}

// overrides returns the per-run symbols that replace the process-wide ones:
// streams, os.Exit, the working directory, logging and flags.
func (r *run) overrides(s *stdio) map[string]map[string]reflect.Value {
	stdin, stdout, stderr := s.in, s.out, s.err
	logger := log.New(stderr, "", log.LstdFlags)
	fatal := func(print func()) { print(); r.exit(1) }
	cmdline := flag.NewFlagSet(r.name, flag.ContinueOnError)
	cmdline.SetOutput(stderr)
	args := append([]string{r.name}, r.p.Args...)
	slogDefault := slog.New(slog.NewTextHandler(stderr, nil))

	env := newJobEnv(r.p.Env)

	osSyms := map[string]reflect.Value{
		"Getenv":    reflect.ValueOf(env.get),
		"LookupEnv": reflect.ValueOf(env.lookup),
		"Setenv":    reflect.ValueOf(env.set),
		"Unsetenv":  reflect.ValueOf(env.unset),
		"Clearenv":  reflect.ValueOf(env.clear),
		"Environ":   reflect.ValueOf(env.environ),
		"ExpandEnv": reflect.ValueOf(func(s string) string { return os.Expand(s, env.get) }),
		"Stdin":     reflect.ValueOf(&stdin).Elem(),
		"Stdout":    reflect.ValueOf(&stdout).Elem(),
		"Stderr":    reflect.ValueOf(&stderr).Elem(),
		"Exit":      reflect.ValueOf(r.exit),
		"Getwd": reflect.ValueOf(func() (string, error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.dir, nil
		}),
		"Chdir": reflect.ValueOf(func(dir string) error {
			d := r.abs(dir)
			fi, err := os.Stat(d)
			if err != nil {
				return &fs.PathError{Op: "chdir", Path: dir, Err: errUnwrap(err)}
			}
			if !fi.IsDir() {
				return &fs.PathError{Op: "chdir", Path: dir, Err: errNotDir}
			}
			r.mu.Lock()
			r.dir = d
			r.mu.Unlock()
			return nil
		}),
		"Open":      reflect.ValueOf(func(n string) (*os.File, error) { return os.Open(r.abs(n)) }),
		"Create":    reflect.ValueOf(func(n string) (*os.File, error) { return os.Create(r.abs(n)) }),
		"OpenFile":  reflect.ValueOf(func(n string, f int, m os.FileMode) (*os.File, error) { return os.OpenFile(r.abs(n), f, m) }),
		"ReadFile":  reflect.ValueOf(func(n string) ([]byte, error) { return os.ReadFile(r.abs(n)) }),
		"WriteFile": reflect.ValueOf(func(n string, b []byte, m os.FileMode) error { return os.WriteFile(r.abs(n), b, m) }),
		"ReadDir":   reflect.ValueOf(func(n string) ([]os.DirEntry, error) { return os.ReadDir(r.abs(n)) }),
		"Stat":      reflect.ValueOf(func(n string) (os.FileInfo, error) { return os.Stat(r.abs(n)) }),
		"Lstat":     reflect.ValueOf(func(n string) (os.FileInfo, error) { return os.Lstat(r.abs(n)) }),
		"Mkdir":     reflect.ValueOf(func(n string, m os.FileMode) error { return os.Mkdir(r.abs(n), m) }),
		"MkdirAll":  reflect.ValueOf(func(n string, m os.FileMode) error { return os.MkdirAll(r.abs(n), m) }),
		"MkdirTemp": reflect.ValueOf(func(d, p string) (string, error) { return os.MkdirTemp(r.abs(d), p) }),
		"CreateTemp": reflect.ValueOf(func(d, p string) (*os.File, error) {
			return os.CreateTemp(r.abs(d), p)
		}),
		"Remove":    reflect.ValueOf(func(n string) error { return os.Remove(r.abs(n)) }),
		"RemoveAll": reflect.ValueOf(func(n string) error { return os.RemoveAll(r.abs(n)) }),
		"Rename":    reflect.ValueOf(func(a, b string) error { return os.Rename(r.abs(a), r.abs(b)) }),
		"Chmod":     reflect.ValueOf(func(n string, m os.FileMode) error { return os.Chmod(r.abs(n), m) }),
		"Chtimes":   reflect.ValueOf(func(n string, a, m time.Time) error { return os.Chtimes(r.abs(n), a, m) }),
		"Truncate":  reflect.ValueOf(func(n string, sz int64) error { return os.Truncate(r.abs(n), sz) }),
		"Symlink":   reflect.ValueOf(func(o, n string) error { return os.Symlink(o, r.abs(n)) }),
		"Readlink":  reflect.ValueOf(func(n string) (string, error) { return os.Readlink(r.abs(n)) }),
		"DirFS":     reflect.ValueOf(func(n string) fs.FS { return os.DirFS(r.abs(n)) }),
		"Args":      reflect.ValueOf(&args).Elem(),
	}
	logSyms := map[string]reflect.Value{
		"Default":   reflect.ValueOf(func() *log.Logger { return logger }),
		"Fatal":     reflect.ValueOf(func(v ...any) { fatal(func() { logger.Print(v...) }) }),
		"Fatalf":    reflect.ValueOf(func(f string, v ...any) { fatal(func() { logger.Printf(f, v...) }) }),
		"Fatalln":   reflect.ValueOf(func(v ...any) { fatal(func() { logger.Println(v...) }) }),
		"Flags":     reflect.ValueOf(logger.Flags),
		"Output":    reflect.ValueOf(logger.Output),
		"Panic":     reflect.ValueOf(logger.Panic),
		"Panicf":    reflect.ValueOf(logger.Panicf),
		"Panicln":   reflect.ValueOf(logger.Panicln),
		"Prefix":    reflect.ValueOf(logger.Prefix),
		"Print":     reflect.ValueOf(logger.Print),
		"Printf":    reflect.ValueOf(logger.Printf),
		"Println":   reflect.ValueOf(logger.Println),
		"SetFlags":  reflect.ValueOf(logger.SetFlags),
		"SetOutput": reflect.ValueOf(logger.SetOutput),
		"SetPrefix": reflect.ValueOf(logger.SetPrefix),
		"Writer":    reflect.ValueOf(logger.Writer),
	}
	mt := map[reflect.Value][]reflect.Type{}
	for _, n := range []string{"Fatal", "Fatalf", "Fatalln", "Panic", "Panicf", "Panicln", "Print", "Printf", "Println"} {
		if base, ok := stdlib.Symbols()["log/log"][n]; ok {
			mt[logSyms[n]] = stdlib.MapTypes()[base]
		}
	}
	if types := stdlib.MapTypes()[reflect.ValueOf(log.Println)]; types != nil {
		for _, n := range []string{"Fatal", "Fatalf", "Fatalln", "Panic", "Panicf", "Panicln", "Print", "Printf", "Println"} {
			mt[logSyms[n]] = types
		}
	}
	flagSyms := map[string]reflect.Value{
		"CommandLine": reflect.ValueOf(&cmdline).Elem(),
		"Parse": reflect.ValueOf(func() {
			err := cmdline.Parse(args[1:])
			if err == flag.ErrHelp {
				r.exit(0)
			} else if err != nil {
				r.exit(2)
			}
		}),
		"Parsed": reflect.ValueOf(cmdline.Parsed),
		"Args":   reflect.ValueOf(cmdline.Args),
		"Arg":    reflect.ValueOf(cmdline.Arg),
		"NArg":   reflect.ValueOf(cmdline.NArg),
		"NFlag":  reflect.ValueOf(cmdline.NFlag),
		"Lookup": reflect.ValueOf(cmdline.Lookup),
		"Set":    reflect.ValueOf(cmdline.Set),
		"Visit":  reflect.ValueOf(cmdline.Visit),

		"VisitAll":      reflect.ValueOf(cmdline.VisitAll),
		"PrintDefaults": reflect.ValueOf(cmdline.PrintDefaults),
		"Bool":          reflect.ValueOf(cmdline.Bool),
		"BoolVar":       reflect.ValueOf(cmdline.BoolVar),
		"Int":           reflect.ValueOf(cmdline.Int),
		"IntVar":        reflect.ValueOf(cmdline.IntVar),
		"Int64":         reflect.ValueOf(cmdline.Int64),
		"Int64Var":      reflect.ValueOf(cmdline.Int64Var),
		"Uint":          reflect.ValueOf(cmdline.Uint),
		"UintVar":       reflect.ValueOf(cmdline.UintVar),
		"Uint64":        reflect.ValueOf(cmdline.Uint64),
		"Uint64Var":     reflect.ValueOf(cmdline.Uint64Var),
		"String":        reflect.ValueOf(cmdline.String),
		"StringVar":     reflect.ValueOf(cmdline.StringVar),
		"Float64":       reflect.ValueOf(cmdline.Float64),
		"Float64Var":    reflect.ValueOf(cmdline.Float64Var),
		"Duration":      reflect.ValueOf(cmdline.Duration),
		"DurationVar":   reflect.ValueOf(cmdline.DurationVar),
		"Func":          reflect.ValueOf(cmdline.Func),
		"BoolFunc":      reflect.ValueOf(cmdline.BoolFunc),
		"Var":           reflect.ValueOf(cmdline.Var),
		"TextVar":       reflect.ValueOf(cmdline.TextVar),
	}
	slogSyms := map[string]reflect.Value{
		"Default":    reflect.ValueOf(func() *slog.Logger { return slogDefault }),
		"SetDefault": reflect.ValueOf(func(l *slog.Logger) { slogDefault = l }),
		"Debug":      reflect.ValueOf(func(m string, a ...any) { slogDefault.Debug(m, a...) }),
		"Info":       reflect.ValueOf(func(m string, a ...any) { slogDefault.Info(m, a...) }),
		"Warn":       reflect.ValueOf(func(m string, a ...any) { slogDefault.Warn(m, a...) }),
		"Error":      reflect.ValueOf(func(m string, a ...any) { slogDefault.Error(m, a...) }),
	}
	hooks := map[string]reflect.Value{
		rt.MainDone: reflect.ValueOf(func() {
			r.mu.Lock()
			r.mainDone = true
			r.mu.Unlock()
			r.end(0, nil)
			r.block()
		}),
		rt.GoPanic: reflect.ValueOf(func(v any) {
			r.end(2, r.panicError(v, true))
			r.block()
		}),
		rt.Recovered: reflect.ValueOf(func(v any) any {
			r.mu.Lock()
			r.chain = nil
			r.mu.Unlock()
			// Yaegi hands a recovered value of an interpreted type over as a
			// reflect.Value; give the program the value itself.
			if rv, ok := v.(reflect.Value); ok && rv.IsValid() && rv.CanInterface() {
				return rv.Interface()
			}
			return v
		}),
		rt.Unwrap: reflect.ValueOf(func(err error) (error, []error) {
			switch u := err.(type) {
			case interface{ Unwrap() []error }:
				return nil, u.Unwrap()
			case interface{ Unwrap() error }:
				return u.Unwrap(), nil
			}
			return nil, nil
		}),
	}
	// The standard streams of fmt, as Yaegi's fixStdlib sets them (see
	// fmtKey), with the interface wrappers of the originals.
	fmtSyms := map[string]reflect.Value{
		"Print":   reflect.ValueOf(func(a ...any) (int, error) { return fmt.Fprint(stdout, a...) }),
		"Printf":  reflect.ValueOf(func(f string, a ...any) (int, error) { return fmt.Fprintf(stdout, f, a...) }),
		"Println": reflect.ValueOf(func(a ...any) (int, error) { return fmt.Fprintln(stdout, a...) }),
		"Scan":    reflect.ValueOf(func(a ...any) (int, error) { return fmt.Fscan(stdin, a...) }),
		"Scanf":   reflect.ValueOf(func(f string, a ...any) (int, error) { return fmt.Fscanf(stdin, f, a...) }),
		"Scanln":  reflect.ValueOf(func(a ...any) (int, error) { return fmt.Fscanln(stdin, a...) }),
	}
	for n, orig := range map[string]any{
		"Print": fmt.Print, "Printf": fmt.Printf, "Println": fmt.Println,
		"Scan": fmt.Scan, "Scanf": fmt.Scanf, "Scanln": fmt.Scanln,
	} {
		if types := stdlib.MapTypes()[reflect.ValueOf(orig)]; types != nil {
			mt[fmtSyms[n]] = types
		}
	}
	out := map[string]map[string]reflect.Value{
		fmtKey:                   fmtSyms,
		"math/bits/bits":         {"UintSize": reflect.ValueOf(constant.MakeInt64(bits.UintSize))},
		"os/os":                  osSyms,
		"log/log":                logSyms,
		"flag/flag":              flagSyms,
		rt.ImportPath + "/rt":    hooks,
		".":                      {"MapTypes": reflect.ValueOf(mt)},
		"path/filepath/filepath": {"Abs": reflect.ValueOf(func(p string) (string, error) { return filepath.Clean(r.abs(p)), nil })},
	}
	if _, ok := stdlib.Symbols()["log/slog/slog"]; ok {
		out["log/slog/slog"] = slogSyms
	}
	return out
}

// jobEnv is a program's environment: its own, never the host's (what
// Yaegi's fixStdlib does, made safe for a program's goroutines).
type jobEnv struct {
	mu sync.Mutex
	m  map[string]string
}

func newJobEnv(kvs []string) *jobEnv {
	e := &jobEnv{m: make(map[string]string, len(kvs))}
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		e.m[k] = v
	}
	return e
}

func (e *jobEnv) get(k string) string {
	v, _ := e.lookup(k)
	return v
}

func (e *jobEnv) lookup(k string) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v, ok := e.m[k]
	return v, ok
}

func (e *jobEnv) set(k, v string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[k] = v
	return nil
}

func (e *jobEnv) unset(k string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, k)
	return nil
}

func (e *jobEnv) clear() {
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.m)
}

func (e *jobEnv) environ() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]string, 0, len(e.m))
	for _, k := range slices.Sorted(maps.Keys(e.m)) {
		out = append(out, k+"="+e.m[k])
	}
	return out
}
