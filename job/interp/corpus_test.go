package interp_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warren-mesh/warren/internal/testutil"
)

// corpusProgram is one program of testdata/corpus with its golden output.
type corpusProgram struct {
	name, path string
	want       string
}

func loadCorpus(t *testing.T) []corpusProgram {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "corpus", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var out []corpusProgram
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want, ok := goldenOutput(string(b))
		if !ok {
			t.Fatalf("%s: no // Output: comment", f)
		}
		abs, _ := filepath.Abs(f)
		out = append(out, corpusProgram{name: filepath.Base(f), path: abs, want: normalize(want)})
	}
	return out
}

// goldenOutput reads the "// Output:" comment at the end of a program, as
// in Go examples: the lines after it, without their "// " prefix.
func goldenOutput(src string) (string, bool) {
	i := strings.LastIndex(src, "// Output:")
	if i < 0 {
		return "", false
	}
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(src[i+len("// Output:"):]))
	first := true
	for sc.Scan() {
		l := sc.Text()
		if first {
			first = false
			if strings.TrimSpace(l) == "" {
				continue
			}
		}
		if !strings.HasPrefix(l, "//") {
			break
		}
		l = strings.TrimPrefix(strings.TrimPrefix(l, "//"), " ")
		b.WriteString(l + "\n")
	}
	return b.String(), true
}

// loadExceptions reads testdata/corpus/EXCEPTIONS: "name.go: reason" lines
// for programs interpreted mode is known to get wrong.
func loadExceptions(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "corpus", "EXCEPTIONS"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		name, reason, _ := strings.Cut(l, ":")
		out[strings.TrimSpace(name)] = strings.TrimSpace(reason)
	}
	return out
}

// normalize trims trailing blanks of each line and trailing empty lines
// (a // comment cannot keep them).
func normalize(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return strings.Join(lines, "\n")
}

// runnerBinary builds internal/interprun (package interp behind the same
// command line as warren exec) once, without -race: Yaegi trips the race
// detector when scripts start goroutines. It depends on package interp
// only, so the corpus runs whatever state the rest of warren is in.
func runnerBinary(t *testing.T) string {
	t.Helper()
	runnerOnce.Do(func() {
		dir, err := os.MkdirTemp("", "interprun-")
		if err != nil {
			runnerErr = err
			return
		}
		runnerPath = filepath.Join(dir, "interprun")
		cmd := exec.Command("go", "build", "-o", runnerPath, "./job/interp/internal/interprun")
		cmd.Dir = testutil.RepoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			runnerErr = fmt.Errorf("go build interprun: %v\n%s", err, out)
		}
	})
	if runnerErr != nil {
		t.Fatal(runnerErr)
	}
	return runnerPath
}

var (
	runnerOnce sync.Once
	runnerPath string
	runnerErr  error
)

// TestCorpus runs every corpus program interpreted and compiled and
// compares both with the golden output, in a child process built without
// -race (runnerBinary). A program listed in EXCEPTIONS must fail
// interpreted, and no other may: the list stays exact.
func TestCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("corpus: builds ~100 programs")
	}
	progs := loadCorpus(t)
	if len(progs) < 100 {
		t.Errorf("corpus has %d programs, want at least 100", len(progs))
	}
	exceptions := loadExceptions(t)
	readme, _ := os.ReadFile(filepath.Join(testutil.RepoRoot(), "README.md"))
	for name := range exceptions {
		if !bytes.Contains(readme, []byte(name)) {
			t.Errorf("exception %s is not listed in README.md", name)
		}
	}
	bin := runnerBinary(t)
	cache := t.TempDir()
	sem := make(chan struct{}, max(2, runtime.NumCPU()))
	var mu sync.Mutex
	seen := map[string]bool{}
	t.Run("programs", func(t *testing.T) {
		for _, p := range progs {
			t.Run(p.name, func(t *testing.T) {
				t.Parallel()
				sem <- struct{}{}
				defer func() { <-sem }()
				mu.Lock()
				seen[p.name] = true
				mu.Unlock()
				run := func(mode string) (string, string, error) {
					ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
					defer cancel()
					cmd := exec.CommandContext(ctx, bin, "-mode", mode, "-build-cache", cache, p.path)
					cmd.Dir = filepath.Dir(p.path)
					var out, errb bytes.Buffer
					cmd.Stdout, cmd.Stderr = &out, &errb
					cmd.Stdin = strings.NewReader("line one\nline two\n")
					cmd.Env = append(os.Environ(), "WARREN_CORPUS=1")
					err := cmd.Run()
					return normalize(out.String()), errb.String(), err
				}
				got, stderr, err := run("compiled")
				if err != nil || got != p.want {
					t.Errorf("compiled: err=%v\n--- got\n%s--- want\n%s--- stderr\n%s", err, got, p.want, stderr)
				}
				got, stderr, err = run("interpreted")
				ok := err == nil && got == p.want
				reason, listed := exceptions[p.name]
				switch {
				case !ok && !listed:
					t.Errorf("interpreted: err=%v\n--- got\n%s--- want\n%s--- stderr\n%s", err, got, p.want, stderr)
				case ok && listed:
					t.Errorf("interpreted now passes; remove it from EXCEPTIONS (listed as: %s)", reason)
				}
			})
		}
	})
	var stale []string
	for name := range exceptions {
		if !seen[name] {
			stale = append(stale, name)
		}
	}
	sort.Strings(stale)
	if len(stale) > 0 {
		t.Errorf("EXCEPTIONS names programs not in the corpus: %v", stale)
	}
}
