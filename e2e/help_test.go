package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunHelpNamesDefaultGroup: what `warren run --help` says about a job run
// without --group is where the daemon puts it (the help said "a new group per
// job" while every such job went to the one group "default").
func TestRunHelpNamesDefaultGroup(t *testing.T) {
	n := newNode(t)
	n.requireGroups()
	n.start()
	prog := filepath.Join(t.TempDir(), "hello.go")
	if err := os.WriteFile(prog, []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, b := n.runJob(prog), n.runJob(prog)
	ga, gb := n.job(a).Spec.Group, n.job(b).Spec.Group
	if ga == "" || ga != gb {
		t.Fatalf("two jobs run without --group: groups %q and %q (want one named group)", ga, gb)
	}
	help := n.must("run", "--help")
	if want := `default: the group "` + ga + `"`; !strings.Contains(help, want) {
		t.Fatalf("run --help does not say %s:\n%s", want, help)
	}
}
