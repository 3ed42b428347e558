package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Benchmarks of the whole CLI round trip and of memory use. Each prints its
// figure and its ratio to a baseline measured in the same run: `warren
// version` (the cost of starting the binary at all) for latencies.
//
//	go test -run '^$' -bench . -benchtime 20x ./e2e

const helloGo = `package main

import "fmt"

func main() { fmt.Println("hello") }
`

const idleGo = `package main

import "time"

func main() { time.Sleep(time.Hour) }
`

func newBenchNode(b *testing.B) *node { return newNode(b) }

// timeRuns runs f k times and returns the median duration.
func timeRuns(k int, f func()) time.Duration {
	ds := make([]time.Duration, 0, k)
	for range k {
		start := time.Now()
		f()
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// memKB reads a memory figure (VmRSS, RssAnon, RssFile) of pid from
// /proc/PID/status, or Pss from /proc/PID/smaps_rollup, in kB.
func memKB(pid int, key string) int {
	file := "status"
	if key == "Pss" {
		file = "smaps_rollup"
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/" + file)
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				kb, _ := strconv.Atoi(f[0])
				return kb
			}
		}
	}
	return -1
}

func rssKB(pid int) int { return memKB(pid, "VmRSS") }

// memLine describes pid's memory: RSS split into anonymous (its own) and
// file-backed (the binary's pages, shared with every warren process and
// reclaimable), and PSS (RSS with shared pages divided among sharers).
func memLine(pid int) string {
	mb := func(kb int) float64 { return float64(kb) / 1024 }
	return fmt.Sprintf("RSS %.1f MB = anon %.1f MB + file %.1f MB; PSS %.1f MB",
		mb(memKB(pid, "VmRSS")), mb(memKB(pid, "RssAnon")), mb(memKB(pid, "RssFile")), mb(memKB(pid, "Pss")))
}

func writeFile(b testing.TB, dir, name, content string) string {
	b.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		b.Fatal(err)
	}
	return p
}

// baseline is the median of `warren version`, the floor of any CLI command.
func baseline(n *node) time.Duration {
	return timeRuns(21, func() { n.must("version") })
}

func report(b *testing.B, name string, d, base time.Duration, goal time.Duration) {
	b.Helper()
	b.ReportMetric(ms(d), "ms/median")
	b.ReportMetric(ms(base), "ms/baseline")
	b.ReportMetric(float64(d)/float64(base), "x-baseline")
	b.Logf("%s: median %.1f ms, baseline `warren version` %.1f ms, ratio %.2fx (goal <= %v)", name, ms(d), ms(base), float64(d)/float64(base), goal)
}

func interpAvailable(b *testing.B, n *node, hello string) {
	b.Helper()
	r := n.run("run", "-i", "--rm", "--mode", "interpreted", hello)
	if r.code != 0 || strings.TrimSpace(r.stdout) != "hello" {
		b.Skipf("interpreted jobs do not run in this build: %v", r)
	}
}

// BenchmarkRunInteractiveExistingGroup: `warren run -i --group g hello.go`
// into a group that already runs, CLI start to exit. Goal: <= 40 ms median.
func BenchmarkRunInteractiveExistingGroup(b *testing.B) {
	n := newBenchNode(b)
	n.requireGroups()
	n.start()
	dir := b.TempDir()
	hello := writeFile(b, dir, "hello.go", helloGo)
	interpAvailable(b, n, hello)
	n.runJob("--group", "g", "sleep", "3600") // keeps group g alive
	base := baseline(n)
	b.ResetTimer()
	ds := make([]time.Duration, 0, b.N)
	for range b.N {
		start := time.Now()
		r := n.run("run", "-i", "--rm", "--group", "g", hello)
		ds = append(ds, time.Since(start))
		if r.code != 0 || strings.TrimSpace(r.stdout) != "hello" {
			b.Fatalf("run -i: %v", r)
		}
	}
	b.StopTimer()
	slices.Sort(ds)
	report(b, "run -i into an existing group", ds[len(ds)/2], base, 40*time.Millisecond)
}

// BenchmarkRunInteractiveNewGroup: the same into a new group each time (a
// group process is started). Goal: <= 100 ms median.
func BenchmarkRunInteractiveNewGroup(b *testing.B) {
	n := newBenchNode(b)
	n.requireGroups()
	n.start()
	dir := b.TempDir()
	hello := writeFile(b, dir, "hello.go", helloGo)
	interpAvailable(b, n, hello)
	base := baseline(n)
	b.ResetTimer()
	ds := make([]time.Duration, 0, b.N)
	for i := range b.N {
		g := fmt.Sprintf("new%d", i)
		start := time.Now()
		r := n.run("run", "-i", "--rm", "--group", g, hello)
		ds = append(ds, time.Since(start))
		if r.code != 0 || strings.TrimSpace(r.stdout) != "hello" {
			b.Fatalf("run -i: %v", r)
		}
		b.StopTimer()
		n.must("kill", "-f", g)
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(ds)
	report(b, "run -i into a new group", ds[len(ds)/2], base, 100*time.Millisecond)
}

// BenchmarkRunExecutable: `warren run -i --rm true` (an executable job), for
// comparison with the interpreted figures.
func BenchmarkRunExecutable(b *testing.B) {
	n := newBenchNode(b)
	n.requireGroups()
	n.start()
	n.runJob("--group", "g", "sleep", "3600")
	base := baseline(n)
	b.ResetTimer()
	ds := make([]time.Duration, 0, b.N)
	for range b.N {
		start := time.Now()
		r := n.run("run", "-i", "--rm", "--group", "g", "true")
		ds = append(ds, time.Since(start))
		if r.code != 0 {
			b.Fatalf("run -i true: %v", r)
		}
	}
	b.StopTimer()
	slices.Sort(ds)
	report(b, "run -i of an executable into an existing group", ds[len(ds)/2], base, 40*time.Millisecond)
}

// BenchmarkNoDaemon: how fast a command fails when no daemon runs (goal < 2 s),
// and how fast a second daemon is refused (goal < 1 s).
func BenchmarkNoDaemon(b *testing.B) {
	n := newBenchNode(b)
	base := baseline(n)
	d := timeRuns(max(b.N, 5), func() {
		if r := n.run("info"); r.code != 1 {
			b.Fatalf("info without daemon: %v", r)
		}
	})
	report(b, "info with no daemon", d, base, 2*time.Second)
	n.start()
	d = timeRuns(max(b.N, 5), func() {
		if r := n.run("daemon"); r.code == 0 {
			b.Fatalf("second daemon: %v", r)
		}
	})
	report(b, "second daemon refused", d, base, time.Second)
}

// BenchmarkMemory: the daemon's idle RSS (goal <= 20 MB) and a group hosting
// 100 idle interpreted jobs (goal <= 150 MB). The baseline is the RSS of an
// idle group process with one executable job.
func BenchmarkMemory(b *testing.B) {
	n := newBenchNode(b)
	n.requireGroups()
	n.start()
	dir := b.TempDir()
	hello := writeFile(b, dir, "hello.go", helloGo)
	idle := writeFile(b, dir, "idle.go", idleGo)
	for range b.N {
		// the figures below are measured once; b.N only repeats the reading
	}
	n.must("info")
	time.Sleep(2 * time.Second) // let the daemon settle: this is a measurement, not synchronisation
	drss := rssKB(n.pid())
	b.ReportMetric(float64(drss)/1024, "MB-daemon-idle")
	b.ReportMetric(float64(memKB(n.pid(), "RssAnon"))/1024, "MB-daemon-idle-anon")
	b.Logf("daemon idle: %s (goal RSS <= 20 MB)", memLine(n.pid()))

	n.runJob("--group", "base", "sleep", "3600")
	interpAvailable(b, n, hello)
	for i := 0; i < 100; i++ {
		n.runJob("--group", "idle100", "--mode", "interpreted", "--name", fmt.Sprintf("idle%d", i), idle)
	}
	hostPID := func(group string) int {
		for pid := range n.groupHosts() {
			c, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
			if strings.HasSuffix(string(c), "\x00--name\x00"+group+"\x00") || strings.Contains(string(c), "\x00--name\x00"+group+"\x00") {
				return pid
			}
		}
		b.Fatalf("no host for group %s", group)
		return 0
	}
	time.Sleep(2 * time.Second)
	bp, gp := hostPID("base"), hostPID("idle100")
	base, g := rssKB(bp), rssKB(gp)
	b.ReportMetric(float64(g)/1024, "MB-group-100-idle")
	b.ReportMetric(float64(g)/float64(base), "x-empty-group")
	b.Logf("group with 100 idle interpreted jobs: %s (goal RSS <= 150 MB)", memLine(gp))
	b.Logf("group with one executable job (baseline): %s; ratio %.1fx", memLine(bp), float64(g)/float64(base))
}
