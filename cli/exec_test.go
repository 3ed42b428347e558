package cli

import (
	"bufio"
	"context"
	"io"
	"os"
	"strings"
	"testing"
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
