package cli

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestExecSignaledExitCode: a program ended by a signal makes `warren exec`
// exit 128+N, as a shell reports it (it was 255).
func TestExecSignaledExitCode(t *testing.T) {
	code, _, errOut := run(t, "exec", "/bin/sh", "-c", "kill -KILL $$")
	if code != 128+9 {
		t.Fatalf("exec of a program killed by SIGKILL: code %d (want 137), stderr %q", code, errOut)
	}
}

// TestExecInterruptTerminatesProgram: when warren is interrupted (its context
// ends, as on SIGINT or SIGTERM), the program gets SIGTERM and may finish
// cleanly; warren exits with the program's own code.
func TestExecInterruptTerminatesProgram(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		defer w.Close()
		done <- Main(ctx, []string{"exec", "/bin/sh", "-c",
			`trap 'echo cleaned up; exit 7' TERM; echo ready; while :; do sleep 0.05; done`},
			strings.NewReader(""), w, io.Discard)
	}()
	br := bufio.NewReader(r)
	line, err := br.ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	cancel()
	code := <-done
	rest, _ := io.ReadAll(br)
	if code != 7 || !strings.Contains(string(rest), "cleaned up") {
		t.Fatalf("interrupted exec: code %d (want 7, the program's own), output after ready %q (want its SIGTERM handler's)", code, rest)
	}
}

// TestExecInterruptedExitCode: a command that warren's signal stops (the
// context's cause says which) makes warren exit 128+N with "interrupted",
// as a shell reports it, not 1 with "context canceled". The signal comes
// before the program starts: cancelling Yaegi mid-run races inside Yaegi
// (see job/interp's cancel_norace_test.go), and the exit code does not
// depend on when.
func TestExecInterruptedExitCode(t *testing.T) {
	prog := filepath.Join(t.TempDir(), "sleeper.go")
	os.WriteFile(prog, []byte("package main\n\nimport \"time\"\n\nfunc main() { time.Sleep(time.Minute) }\n"), 0o600)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(Interrupted{Signal: sig})
		var errOut strings.Builder
		code := Main(ctx, []string{"exec", "--mode", "interpreted", prog}, strings.NewReader(""), io.Discard, &errOut)
		if code != 128+int(sig) || !strings.Contains(errOut.String(), "interrupted by "+unix.SignalName(sig)) {
			t.Fatalf("exec interrupted by %v: code %d (want %d), stderr %q", sig, code, 128+int(sig), errOut.String())
		}
	}
}
