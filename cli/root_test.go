package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := run(t, "version")
	if code != 0 || !strings.HasPrefix(out, "warren ") || !strings.Contains(out, "go1.") {
		t.Fatalf("version: code %d, out %q", code, out)
	}
	code, out, _ = run(t, "version", "-o", "json")
	var m map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &m) != nil || m["go_version"] == nil || m["features"] == nil {
		t.Fatalf("version -o json: code %d, out %q", code, out)
	}
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"unknown command", []string{"frobnicate"}, 2, "unknown command \"frobnicate\" for \"warren\"\nRun 'warren --help' for usage."},
		{"unknown flag", []string{"version", "--nope"}, 2, "unknown flag: --nope\nSee 'warren version --help'."},
		{"missing argument", []string{"run"}, 2, "warren: run: requires at least 1 arg(s), only received 0\nRun 'warren run --help' for usage."},
		{"bad output", []string{"version", "-o", "yaml"}, 2, "yaml"},
		{"bad log level", []string{"--log-level", "loud", "version"}, 2, "loud"},
		{"help", []string{"--help"}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := run(t, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.msg) {
				t.Fatalf("code %d (want %d), stderr %q (want %q)", code, tt.code, errOut, tt.msg)
			}
		})
	}
}

// TestEveryCommandAcceptsWorkdir: --workdir is accepted by every command,
// before or after its name, so an alias or a script can always pass it.
func TestEveryCommandAcceptsWorkdir(t *testing.T) {
	dir := t.TempDir()
	var walk func(c *cobra.Command)
	var paths [][]string
	walk = func(c *cobra.Command) {
		if c.Hidden || c.DisableFlagParsing {
			return
		}
		if c.Runnable() && c.HasParent() {
			var path []string
			for p := c; p.HasParent(); p = p.Parent() {
				path = append([]string{p.Name()}, path...)
			}
			paths = append(paths, path)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(NewRoot(&Env{}))
	if len(paths) < 15 {
		t.Fatalf("found only %d commands: %v", len(paths), paths)
	}
	for _, p := range paths {
		for _, args := range [][]string{
			append(append([]string{}, p...), "--workdir", dir, "--help"),
			append([]string{"--workdir", dir}, append(append([]string{}, p...), "--help")...),
		} {
			if code, _, errOut := run(t, args...); code != 0 {
				t.Errorf("%v: exit %d: %s", args, code, errOut)
			}
		}
	}
}
