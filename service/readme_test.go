package service_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warren-mesh/warren/internal/testutil"
)

// TestReadmeExample builds and runs the Go example of README.md's
// "## Service library" section (its declarations at top level, its
// statements in main), so the README cannot drift from the API.
func TestReadmeExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	readme, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(readme), "## Service library\n")
	if !ok {
		t.Fatal("README has no service library section")
	}
	_, code, _ := strings.Cut(sec, "```go\n")
	code, _, ok = strings.Cut(code, "```")
	if !ok {
		t.Fatal("service library section has no go block")
	}
	var decls, body strings.Builder
	for _, line := range strings.Split(code, "\n") {
		if strings.HasPrefix(line, "type ") || strings.HasPrefix(line, "func ") {
			decls.WriteString(line + "\n")
		} else {
			body.WriteString("\t" + line + "\n")
		}
	}
	prog := `package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/warren-mesh/warren/service"
)

type Reply struct{ Msg string }

var ErrQuota = errors.New("quota exceeded")

` + decls.String() + `
func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nodeID := "0123456789ab"
	var reply Reply
` + body.String() + `
	_ = st
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("reply:", reply.Msg)
	srv.Close(ctx)
	conn.Close()
}
`
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte(prog), 0o600); err != nil {
		t.Fatal(err)
	}
	// The program joins the module through an overlay: nothing is written
	// into the source tree.
	virtual := filepath.Join(testutil.RepoRoot(), "service", "internal", "readmeexample", "main.go")
	overlay, _ := json.Marshal(map[string]any{"Replace": map[string]string{virtual: src}})
	ovPath := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(ovPath, overlay, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "run", "-overlay", ovPath, "./service/internal/readmeexample")
	cmd.Dir = testutil.RepoRoot()
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+dir, "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "reply: hi") {
		t.Fatalf("README example: %v\n%s\n--- program ---\n%s", err, out, prog)
	}
}
