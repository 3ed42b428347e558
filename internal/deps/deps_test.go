// Package deps holds the test that keeps warren's import graph in the shape
// DESIGN.md gives: service, proc <- job, gateway <- daemon <- cli <- cmd.
// Siblings (job and gateway, the transports) never import each other.
package deps

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/warren-mesh/warren/internal/testutil"
)

const module = "github.com/warren-mesh/warren"

// allowed maps a top-level area to the areas it may import (besides itself
// and internal/, which everyone may use). An area not listed here fails the
// test, so a new top-level package must be placed in the graph on purpose.
var allowed = map[string][]string{
	"internal":  {},
	"service":   {},
	"proc":      {},
	"update":    {},
	"job":       {"service", "proc"},
	"gateway":   {"service", "proc"},
	"dashboard": {"service"},
	"repl":      {"service", "job"},
	"daemon":    {"service", "proc", "job", "gateway", "dashboard", "update", "repl"},
	"cli":       {"service", "proc", "job", "gateway", "dashboard", "update", "repl", "daemon"},
	"cmd":       {"cli"},
	// End-to-end tests drive the whole binary and may import anything but cmd.
	"e2e": {"service", "proc", "job", "gateway", "dashboard", "update", "repl", "daemon", "cli"},
}

// siblings inside an area that must not import each other.
var forbiddenPairs = [][2]string{
	{"service/transport", "service/discovery"},
	{"service/discovery", "service/transport"},
}

func area(pkg string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
	if i := strings.IndexByte(rel, '/'); i >= 0 {
		return rel[:i]
	}
	return rel
}

type pkgInfo struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

func TestImportDirection(t *testing.T) {
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = testutil.RepoRoot()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	n := 0
	for {
		var p pkgInfo
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		n++
		from := area(p.ImportPath)
		if from == "" {
			continue // the module root holds no code
		}
		ok, known := allowed[from]
		if !known {
			t.Errorf("%s: top-level area %q is not placed in the import graph (add it to allowed in %s)", p.ImportPath, from, "internal/deps/deps_test.go")
			continue
		}
		// Test files may reach further (an end-to-end test builds the binary), but
		// production imports must follow the graph.
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			to := area(imp)
			if to == from || to == "internal" {
				for _, fp := range forbiddenPairs {
					if within(p.ImportPath, fp[0]) && within(imp, fp[1]) {
						t.Errorf("%s imports %s: %s must not import %s", p.ImportPath, imp, fp[0], fp[1])
					}
				}
				continue
			}
			if !slices.Contains(ok, to) {
				t.Errorf("%s imports %s: %s may import only %v", p.ImportPath, imp, from, ok)
			}
		}
	}
	if n < 3 {
		t.Fatalf("go list found only %d packages; is the test running in the module?", n)
	}
}

func within(pkg, prefix string) bool {
	p := module + "/" + prefix
	return pkg == p || strings.HasPrefix(pkg, p+"/")
}
