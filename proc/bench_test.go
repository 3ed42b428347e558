package proc

import (
	"context"
	"os/exec"
	"testing"
	"time"
)

// BenchmarkStartWait starts /bin/true through proc and waits for Done, and
// in the same loop does the same with a bare os/exec Run: the ratio is
// what supervision (own group, pdeathsig, WNOWAIT wait, group check,
// registry) costs over a plain fork/exec/wait.
func BenchmarkStartWait(b *testing.B) {
	var procT, execT time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := exec.Command("/bin/true").Run(); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		p, err := Start(context.Background(), Spec{Path: "/bin/true"})
		if err != nil {
			b.Fatal(err)
		}
		<-p.Done()
		t2 := time.Now()
		execT += t1.Sub(t0)
		procT += t2.Sub(t1)
	}
	b.ReportMetric(float64(procT.Microseconds())/float64(b.N), "proc-µs/op")
	b.ReportMetric(float64(execT.Microseconds())/float64(b.N), "exec-µs/op")
	b.ReportMetric(float64(procT)/float64(execT), "x-exec")
}
