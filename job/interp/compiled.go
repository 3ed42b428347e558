package interp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/warren-mesh/warren/proc"
)

// lookGo finds the go command compiled mode builds with.
func lookGo(o *options) (string, error) {
	if o.goTool != "" {
		return o.goTool, nil
	}
	p, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("interp: compiled mode: %w", ErrNoGo)
	}
	return p, nil
}

func cacheDir(o *options) (string, error) {
	if o.buildCache != "" {
		return o.buildCache, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("interp: build cache: %w", err)
	}
	return filepath.Join(d, "warren", "builds"), nil
}

// buildKey hashes everything the binary depends on that can change between
// runs on one node: the program's files (and go.mod/go.sum of a directory),
// the toolchain (path, size, mtime) and the target platform.
func buildKey(goTool string, p Program, files []string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "warren-build-v1\n%s\n%s/%s\n", goTool, runtime.GOOS, runtime.GOARCH)
	if fi, err := os.Stat(goTool); err == nil {
		fmt.Fprintf(h, "%d %d\n", fi.Size(), fi.ModTime().UnixNano())
	}
	for _, k := range []string{"GOOS", "GOARCH", "GOFLAGS", "GOEXPERIMENT", "CGO_ENABLED"} {
		fmt.Fprintf(h, "%s=%s\n", k, os.Getenv(k))
	}
	if fi, err := os.Stat(p.Path); err == nil && fi.IsDir() {
		for _, n := range []string{"go.mod", "go.sum"} {
			if b, err := os.ReadFile(filepath.Join(p.Path, n)); err == nil {
				files = append(files, filepath.Join(p.Path, n))
				_ = b
			}
		}
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("interp: build: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n", filepath.Base(f), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

// buildLocks serialises builds of the same key inside this process; the
// rename at the end makes concurrent builds from several processes safe.
var buildLocks sync.Map // key -> *sync.Mutex (init-time registry of per-key locks)

// Build compiles the program at p.Path with the Go toolchain, or returns the
// cached binary of identical sources. cached says which.
func Build(ctx context.Context, p Program, opts ...Option) (bin string, cached bool, err error) {
	o := options{}
	for _, f := range opts {
		f(&o)
	}
	if p.Path, err = filepath.Abs(p.Path); err != nil {
		return "", false, fmt.Errorf("interp: build: %w", err)
	}
	return build(ctx, p, &o)
}

func build(ctx context.Context, p Program, o *options) (string, bool, error) {
	goTool, err := lookGo(o)
	if err != nil {
		return "", false, err
	}
	files, err := sourceFiles(p.Path)
	if err != nil {
		return "", false, err
	}
	key, err := buildKey(goTool, p, files)
	if err != nil {
		return "", false, err
	}
	dir, err := cacheDir(o)
	if err != nil {
		return "", false, err
	}
	bin := filepath.Join(dir, key, progName(p.Path))
	if _, err := os.Stat(bin); err == nil {
		return bin, true, nil
	}
	mu, _ := buildLocks.LoadOrStore(key, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	if _, err := os.Stat(bin); err == nil {
		return bin, true, nil
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", false, fmt.Errorf("interp: build cache: %w", err)
	}
	tmp := bin + ".tmp" + strconv.Itoa(os.Getpid())
	var args []string
	var wd string
	if fi, _ := os.Stat(p.Path); fi != nil && fi.IsDir() {
		args, wd = []string{"build", "-o", tmp, "."}, p.Path
	} else {
		args, wd = []string{"build", "-o", tmp, filepath.Base(p.Path)}, filepath.Dir(p.Path)
	}
	cmd := exec.CommandContext(ctx, goTool, args...)
	cmd.Dir = wd
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		os.Remove(tmp)
		if ctx.Err() != nil {
			return "", false, fmt.Errorf("interp: build %s: %w", p.Path, ctx.Err())
		}
		return "", false, buildError(wd, out, err)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", false, fmt.Errorf("interp: build cache: %w", err)
	}
	return bin, false, nil
}

var buildErrRE = regexp.MustCompile(`(?m)^(\S+\.go):(\d+):(\d+): (.*)$`)

// buildError turns the go command's output into an *Error at the first
// position it names.
func buildError(wd string, out []byte, err error) error {
	e := &Error{Msg: strings.TrimSpace(string(out)), err: err}
	if m := buildErrRE.FindSubmatch(out); m != nil {
		f := string(m[1])
		if !filepath.IsAbs(f) {
			f = filepath.Join(wd, f)
		}
		e.File = f
		e.Line, _ = strconv.Atoi(string(m[2]))
		e.Col, _ = strconv.Atoi(string(m[3]))
		e.Msg = string(m[4])
	}
	if e.Msg == "" {
		e.Msg = err.Error()
	}
	return e
}

func runCompiled(ctx context.Context, p Program, o *options) (Result, error) {
	res := Result{ModeUsed: Compiled}
	bin, cached, err := build(ctx, p, o)
	if err != nil {
		res.ExitCode = 1
		return res, err
	}
	o.log.Debug("interp: compiled program", "path", p.Path, "binary", bin, "cached", cached)
	tail := &tailBuffer{max: 16 << 10}
	stderr := io.MultiWriter(p.Stderr, tail)
	code, err := startAndWait(ctx, execSpec{
		Path: bin, Args: p.Args, Env: p.Env, Dir: p.Dir,
		Stdin: p.Stdin, Stdout: p.Stdout, Stderr: stderr,
	})
	res.ExitCode = code
	if err != nil {
		return res, fmt.Errorf("interp: run %s: %w", p.Path, err)
	}
	if code == 2 {
		if pe := parseGoPanic(tail.Bytes()); pe != nil {
			return res, pe
		}
	}
	return res, nil
}

// execSpec is what the compiled program is started with.
type execSpec struct {
	Path           string
	Args, Env      []string
	Dir            string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// startAndWait runs an executable through package proc (its own process
// group, SIGTERM then SIGKILL to the whole group when ctx ends, killed if
// the host dies) and waits for it. It returns the exit code (128+signal
// when a signal killed it).
func startAndWait(ctx context.Context, s execSpec) (int, error) {
	env := s.Env
	if env == nil {
		env = []string{} // the program's environment is exactly Program.Env
	}
	p, err := proc.Start(ctx, proc.Spec{
		Path: s.Path, Args: s.Args, Env: env, Dir: s.Dir,
		Stdin: s.Stdin, Stdout: s.Stdout, Stderr: s.Stderr,
	})
	if err != nil {
		return -1, err
	}
	select {
	case <-p.Done():
	case <-ctx.Done():
		<-p.Done() // proc stops the group when ctx ends
		return -1, ctx.Err()
	}
	return p.ExitCode(), nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return bytes.Clone(t.b)
}

var (
	goPanicRE = regexp.MustCompile(`(?m)^panic: (.*)$`)
	goFrameRE = regexp.MustCompile(`(?m)^main\.[^\n]*\n\t(\S+\.go):(\d+)`)
)

// parseGoPanic finds the panic message and the innermost frame of package
// main in a Go program's crash report.
func parseGoPanic(b []byte) *Error {
	m := goPanicRE.FindSubmatch(b)
	if m == nil {
		return nil
	}
	e := &Error{Msg: "panic: " + strings.TrimSuffix(string(m[1]), " [recovered]")}
	rest := b[bytes.Index(b, m[0]):]
	if fm := goFrameRE.FindSubmatch(rest); fm != nil {
		e.File = string(fm[1])
		e.Line, _ = strconv.Atoi(string(fm[2]))
	}
	e.Goroutine = !bytes.Contains(rest, []byte("goroutine 1 ["))
	return e
}
