package job

import (
	"strings"
	"testing"

	"github.com/warren-mesh/warren/internal/testutil"
)

// TestWarrenBinaryGroupHost drives real `warren __group` hosts (cli/group.go)
// with the real interpreter, instead of the test binary and its fake.
func TestWarrenBinaryGroupHost(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the warren binary")
	}
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	m := e.manager()
	m.Exe, m.GroupEnv = testutil.WarrenBinary(t), nil
	if err := m.Start(bg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.shutdown(m) })

	hello := e.goFile("hello.go", `package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Println("hello from", os.Args[1:])
	os.Exit(3)
}
`)
	st, err := m.Run(bg, Spec{Path: hello, Args: []string{"x"}, Group: "real", Mode: Interpreted})
	if err != nil {
		t.Fatal(err)
	}
	st = waitState(t, m, st.ID, StateFailed)
	if st.ExitCode != 3 || st.ModeUsed != Interpreted {
		t.Fatalf("interpreted job %+v", st)
	}
	if l := logsOf(t, m, st.ID); !strings.Contains(l, "hello from [x]") {
		t.Fatalf("log %q", l)
	}
	sh, err := m.Run(bg, Spec{Path: e.script("s.sh", "echo shell; SLEEP"), Group: "real", MaxProcs: 1})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, m, sh.ID, StateRunning)
}
