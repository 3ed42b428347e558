package job

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warren-mesh/warren/internal/testutil"
)

// TestREADMEJobList parses the job list example of the README's jobs
// section, so the documentation cannot drift from the parser.
func TestREADMEJobList(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "## Jobs and process supervision")
	if !ok {
		t.Fatal("README has no jobs section")
	}
	_, rest, ok := strings.Cut(sec, "```yaml\n")
	doc, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no yaml example in the jobs section")
	}
	jl, specs, err := ParseJobList([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 2 || specs[0].Restart.String() != "on-failure:3" || specs[1].Restart.Kind != RestartAlways ||
		!jl.Jobs[1].Stopped || jl.Groups[0].MaxProcs != 2 {
		t.Fatalf("parsed %+v %+v", jl, specs)
	}
}
