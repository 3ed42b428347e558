package cli

import (
	"strings"
	"testing"
)

// Every daemon and job command has --help with an example, and a bad flag
// or a missing argument is a usage error (exit 2) before any daemon is
// contacted.
func TestDaemonCommandsHelpAndUsage(t *testing.T) {
	t.Setenv("WARREN_WORKDIR", t.TempDir())
	cmds := [][]string{
		{"daemon"}, {"id"}, {"info"}, {"list"}, {"run"}, {"ps"}, {"stop"}, {"start"}, {"rm"},
		{"kill"}, {"log"}, {"mv"}, {"joblist"}, {"joblist", "save"}, {"joblist", "load"},
	}
	for _, c := range cmds {
		name := strings.Join(c, " ")
		t.Run(name, func(t *testing.T) {
			code, out, _ := run(t, append(c, "--help")...)
			if code != 0 || !strings.Contains(out, "Examples:") || !strings.Contains(out, "warren "+c[0]) {
				t.Fatalf("--help: code %d\n%s", code, out)
			}
			if c[0] == "joblist" && len(c) == 1 {
				return
			}
			if code, _, errOut := run(t, append(c, "--no-such-flag")...); code != 2 || !strings.Contains(errOut, "unknown flag") {
				t.Fatalf("bad flag: code %d, %q", code, errOut)
			}
		})
	}
	for _, args := range [][]string{{"run"}, {"stop"}, {"mv", "x"}, {"kill"}, {"log"}, {"joblist", "save"}, {"ps", "-o", "yaml"}, {"run", "--mode", "x", "true"}} {
		if code, _, errOut := run(t, args...); code != 2 {
			t.Errorf("%v: code %d (want 2), %q", args, code, errOut)
		}
	}
}
