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

// TestStdioAndEnvWithAndWithoutGenericSources checks what Yaegi's own
// standard library set-up did, now done by the job's overrides: fmt reads
// and writes the job's streams (keeping a script type's String method),
// and os sees the job's environment only, both for a program that needs
// Yaegi's generic sources (it imports slices) and for one that does not.
func TestStdioAndEnvWithAndWithoutGenericSources(t *testing.T) {
	const body = `
type name string

func (n name) String() string { return "<" + string(n) + ">" }

func main() {
	var word string
	fmt.Scanln(&word)
	os.Setenv("B", "2")
	fmt.Println(name(word), os.Environ(), os.Getenv("HOME") == "", os.ExpandEnv("$A$B"))
	%s
}
`
	for _, tc := range []struct{ name, imports, extra, want string }{
		{"plain", `import ("fmt"; "os")`, ``, "<hi> [A=1 B=2] true 12\n"},
		{"generic", `import ("fmt"; "os"; "slices")`, `fmt.Println(slices.Contains([]int{1, 2}, 2))`, "<hi> [A=1 B=2] true 12\ntrue\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "p.go")
			src := "package main\n\n" + tc.imports + "\n" + strings.Replace(body, "%s", tc.extra, 1)
			if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			p := interp.Program{Path: path, Env: []string{"A=1"}, Stdin: strings.NewReader("hi\n"), Stdout: &out}
			if _, err := interp.Run(context.Background(), p, interp.Interpreted); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Fatalf("output %q, want %q", out.String(), tc.want)
			}
		})
	}
}
