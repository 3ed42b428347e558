package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/warren-mesh/warren/internal/testutil"
)

// TestREADMEExample decodes the config example of README.md's
// "### Configuration" section, so the documentation cannot drift from the
// decoder.
func TestREADMEExample(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "### Configuration")
	if !ok {
		t.Fatal(`README.md has no "### Configuration" section`)
	}
	_, block, ok := strings.Cut(section, "```json\n")
	if !ok {
		t.Fatal("no ```json block in the Configuration section")
	}
	block, _, _ = strings.Cut(block, "```")
	c, err := Decode([]byte(block))
	if err != nil {
		t.Fatalf("README example: %v", err)
	}
	if len(c.Routes) != 5 {
		t.Fatalf("README example has %d routes", len(c.Routes))
	}
	// Every route-level field named in the defaults table exists.
	_, table, _ := strings.Cut(section, "| field (route) |")
	table, _, _ = strings.Cut(table, "\n\n")
	known := structFields(reflectRoute)
	for _, line := range strings.Split(table, "\n")[2:] {
		f := strings.Trim(strings.Split(line, "|")[1], " `")
		f, _, _ = strings.Cut(f, ".")
		if _, ok := known[f]; !ok {
			t.Errorf("README documents unknown route field %q", f)
		}
	}
}

var reflectRoute = reflect.TypeFor[Route]()
