package job

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// BenchmarkGroupRSS100Interpreted measures the resident memory of a real
// group host (the warren binary, real interpreter) holding 100 idle
// interpreted jobs, against the same host with no job, measured in the
// same run. The budget is 150 MB.
func BenchmarkGroupRSS100Interpreted(b *testing.B) {
	wd := b.TempDir()
	m := &Manager{WorkDir: filepath.Join(wd, "jobs"), Exe: testutil.WarrenBinary(b)}
	if err := m.Start(bg); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		m.KillGroups(bg, "*", true)
		m.Close(bg)
	})
	idle := filepath.Join(wd, "idle.go")
	os.WriteFile(idle, []byte("package main\n\nimport \"time\"\n\nfunc main() {\n\tfor {\n\t\ttime.Sleep(time.Hour)\n\t}\n}\n"), 0o644)
	g, err := m.ensureGroup(bg, "rss", 0, 0)
	if err != nil {
		b.Fatal(err)
	}
	empty := rssMB(b, g.pid)
	for i := 0; i < b.N; i++ {
		var ids []string
		for j := 0; j < 100; j++ {
			st, err := m.Run(bg, Spec{Path: idle, Group: "rss", Mode: Interpreted})
			if err != nil {
				b.Fatal(err)
			}
			ids = append(ids, st.ID)
		}
		deadline := time.Now().Add(2 * time.Minute)
		for _, id := range ids {
			for {
				st, _ := m.Get(id)
				if st.State == StateRunning {
					break
				}
				if st.State.Terminal() || time.Now().After(deadline) {
					b.Fatalf("job %s: %+v", id, st)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		full := rssMB(b, g.pid)
		b.ReportMetric(full, "MB-100-jobs")
		b.ReportMetric(empty, "MB-empty")
		b.ReportMetric(full/empty, "x-empty")
		for _, id := range ids {
			m.Stop(bg, id)
			m.Remove(bg, id)
		}
	}
}

func rssMB(b *testing.B, pid int) float64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			var kb float64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(line, "VmRSS:"), "kB")), &kb)
			return kb / 1024
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
