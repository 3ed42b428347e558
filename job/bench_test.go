package job

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warren-mesh/warren/proc"
)

// benchEnv is newEnv for benchmarks (no leak check per iteration).
func benchManager(b *testing.B) (*Manager, string) {
	b.Helper()
	wd := b.TempDir()
	exe, _ := os.Executable()
	m := &Manager{WorkDir: filepath.Join(wd, "jobs"), Exe: exe, GroupEnv: append(os.Environ(), "JOB_TEST_HOST=1")}
	if err := m.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		m.KillGroups(context.Background(), "*", true)
		m.Close(context.Background())
	})
	script := filepath.Join(wd, "echo.sh")
	os.WriteFile(script, []byte("#!/bin/sh\ncat\n"), 0o755)
	return m, script
}

// BenchmarkInteractiveRun is the job side of `warren run -i` into an
// existing group: Run an interactive job, Attach, send a line, read it
// back, get the exit code. The baseline, in the same loop, is proc.Start of
// the same script with the same stdin, waited for directly: the ratio is
// the cost of the Manager, the socket hops and the group host.
func BenchmarkInteractiveRun(b *testing.B) {
	ctx := context.Background()
	m, script := benchManager(b)
	if _, err := m.ensureGroup(ctx, "bench", 0, 0); err != nil {
		b.Fatal(err)
	}
	var jobT, baseT time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		var out strings.Builder
		p, err := proc.Start(ctx, proc.Spec{Path: script, Stdin: strings.NewReader("hello\n"), Stdout: &out})
		if err != nil {
			b.Fatal(err)
		}
		<-p.Done()
		t1 := time.Now()
		st, err := m.Run(ctx, Spec{Path: script, Group: "bench", Interactive: true, AutoRemove: true})
		if err != nil {
			b.Fatal(err)
		}
		var jout strings.Builder
		code, err := m.Attach(ctx, st.ID, strings.NewReader("hello\n"), &jout)
		if err != nil || code != 0 || jout.String() != "hello\n" {
			b.Fatalf("attach: %d %v %q", code, err, jout.String())
		}
		t2 := time.Now()
		baseT += t1.Sub(t0)
		jobT += t2.Sub(t1)
	}
	b.ReportMetric(float64(jobT.Microseconds())/float64(b.N), "job-µs/op")
	b.ReportMetric(float64(baseT.Microseconds())/float64(b.N), "proc-µs/op")
	b.ReportMetric(float64(jobT)/float64(baseT), "x-proc")
}

// BenchmarkRunToExit runs a non-interactive job into an existing group
// until the Manager sees it exited, against proc.Start of the same script.
func BenchmarkRunToExit(b *testing.B) {
	ctx := context.Background()
	m, script := benchManager(b)
	if _, err := m.ensureGroup(ctx, "bench", 0, 0); err != nil {
		b.Fatal(err)
	}
	var jobT, baseT time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		p, err := proc.Start(ctx, proc.Spec{Path: script})
		if err != nil {
			b.Fatal(err)
		}
		<-p.Done()
		t1 := time.Now()
		st, err := m.Run(ctx, Spec{Path: script, Group: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		for {
			s, _ := m.Get(st.ID)
			if s.State == StateExited {
				break
			}
			time.Sleep(50 * time.Microsecond)
		}
		t2 := time.Now()
		m.Remove(ctx, st.ID)
		baseT += t1.Sub(t0)
		jobT += t2.Sub(t1)
	}
	b.ReportMetric(float64(jobT.Microseconds())/float64(b.N), "job-µs/op")
	b.ReportMetric(float64(baseT.Microseconds())/float64(b.N), "proc-µs/op")
	b.ReportMetric(float64(jobT)/float64(baseT), "x-proc")
}

var _ = io.Discard
