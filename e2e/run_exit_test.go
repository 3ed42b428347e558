package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunInteractivePanicExitCode: `warren run -i` of a Go program that
// panics exits 2 with the panic's position, as `warren exec` does and as the
// job's own exit code says (it exited 1).
func TestRunInteractivePanicExitCode(t *testing.T) {
	n := newNode(t)
	n.requireGroups()
	n.start()
	prog := filepath.Join(t.TempDir(), "boom.go")
	if err := os.WriteFile(prog, []byte("package main\n\nfunc main() { panic(\"boom\") }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := n.run("run", "-i", "--name", "boom", prog)
	if r.code != 2 || !strings.Contains(r.stderr, "boom.go:3:") || !strings.Contains(r.stderr, "panic: boom") {
		t.Fatalf("run -i of a panicking program: want exit 2 and its position, got %v", r)
	}
	if ex := n.run("exec", prog); ex.code != r.code {
		t.Errorf("exec exits %d, run -i %d", ex.code, r.code)
	}
	for _, j := range n.jobs() {
		if j.Spec.Name == "boom" && j.ExitCode != r.code {
			t.Errorf("job's exit code %d, run -i's %d", j.ExitCode, r.code)
		}
	}
}
