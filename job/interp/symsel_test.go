package interp_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warren-mesh/warren/job/interp"
)

// TestImportsOfEveryFileAreLinked runs a two-file program whose files
// import different packages (the interpreter links only the packages a
// program imports, so an import seen in one file only must still be
// linked), and checks the per-job streams and environment still hold when
// the program itself does not import fmt.
func TestImportsOfEveryFileAreLinked(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("main.go", `package main

import "os"

func main() {
	os.Stdout.WriteString(shout(os.Getenv("WHO")) + " " + enc([]byte{1, 255}) + "\n")
	os.Exit(4)
}
`)
	write("util.go", `package main

import (
	"encoding/hex"
	str "strings"
)

func shout(s string) string { return str.ToUpper(s) }
func enc(b []byte) string   { return hex.EncodeToString(b) }
`)
	var out bytes.Buffer
	res, err := interp.Run(context.Background(), interp.Program{Path: dir, Env: []string{"WHO=warren"}, Stdout: &out}, interp.Interpreted)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 4 || out.String() != "WARREN 01ff\n" {
		t.Fatalf("exit %d, output %q; want 4, %q", res.ExitCode, out.String(), "WARREN 01ff\n")
	}
}

// TestUnimportedPackageStaysUnknown checks that a package the program uses
// without importing it is an error naming the user's line, as in Go.
func TestUnimportedPackageStaysUnknown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "noimport.go")
	src := "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(strings.ToUpper(\"x\"))\n}\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := interp.Run(context.Background(), interp.Program{Path: path}, interp.Interpreted)
	if err == nil || !strings.Contains(err.Error(), "noimport.go:6") {
		t.Fatalf("err = %v, want an error at noimport.go:6", err)
	}
}
