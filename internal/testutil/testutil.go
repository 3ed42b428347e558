// Package testutil holds helpers shared by warren's tests: polling for a
// condition instead of sleeping, goroutine leak checks, building the warren
// binary once per test process, loopback address allocation, and plain
// HTTP GETs.
package testutil

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Eventually polls cond every few milliseconds until it returns nil or the
// timeout passes, then fails the test with cond's last error. Use it to wait
// for readiness instead of a bare time.Sleep.
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	wait := time.Millisecond
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v: %v", timeout, err)
		}
		time.Sleep(wait)
		if wait < 50*time.Millisecond {
			wait *= 2
		}
	}
}

// VerifyNoLeaks fails the test if goroutines started during it are still
// running when it ends. Call it first thing in a test: it registers a cleanup.
func VerifyNoLeaks(t testing.TB, opts ...goleak.Option) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		goleak.VerifyNone(t, append([]goleak.Option{ignore}, opts...)...)
	})
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Prefer listening on port 0 where the code under test allows it.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// WarrenBinary builds cmd/warren once per test process, without -race
// (the interpreter trips the race detector in scripts' goroutines), and
// returns its path. End-to-end tests drive this binary.
func WarrenBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "warren-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "warren")
		cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/warren")
		cmd.Dir = RepoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// RepoRoot returns the repository's root directory (where go.mod is).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}
