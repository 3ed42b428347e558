package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warren-mesh/warren/internal/testutil"
)

// TestReadmeQuickTour runs the README's quick tour as a script against the
// binary under test, so the README cannot drift from what warren does.
func TestReadmeQuickTour(t *testing.T) {
	n := newNode(t)
	n.requireGroups()
	readme, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "## Quick tour\n")
	if !ok {
		t.Fatal("README has no quick tour")
	}
	_, after, _ = strings.Cut(after, "```sh\n")
	script, _, ok := strings.Cut(after, "```")
	if !ok {
		t.Fatal("quick tour has no sh block")
	}
	tmp := t.TempDir()
	r := strings.NewReplacer(
		"make build\n", "",
		"$(mktemp -d)", n.workDir,
		"bin/warren", n.bin,
		"/tmp/hello.go", filepath.Join(tmp, "hello.go"),
		"/tmp/jobs.yaml", filepath.Join(tmp, "jobs.yaml"),
	)
	script = "set -e\n" + r.Replace(script) + "wait\n"
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Env = n.env()
	cmd.Dir = tmp
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("quick tour failed: %v\n%s", err, out)
	}
	for _, want := range []string{"Node ID:", "warren", "daemon", "--O-", "hello", "HI THERE", "RESTARTS", "Command:", "moved to group other"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("quick tour output lacks %q:\n%s", want, out)
		}
	}
	if b, err := os.ReadFile(filepath.Join(tmp, "jobs.yaml")); err != nil || !strings.Contains(string(b), "on-failure:3") {
		t.Errorf("jobs.yaml: %q %v", b, err)
	}
}
