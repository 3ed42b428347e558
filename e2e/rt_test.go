package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// schedPolicy reads a process's scheduling policy (field 41 of
// /proc/PID/stat): 0 normal, 1 FIFO, 2 RR.
func schedPolicy(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+2:]))
	// fields after ")" start at field 3 (state); policy is field 41.
	if len(f) < 39 {
		return -1
	}
	p, _ := strconv.Atoi(f[38])
	return p
}

// --rt puts the group under SCHED_RR when permitted and warns clearly when
// not; --maxprocs sets the group's GOMAXPROCS.
func TestRTAndMaxProcs(t *testing.T) {
	n := newNode(t)
	n.requireGroups()
	n.start()
	r := n.run("run", "--group", "rt", "--rt", "10", "sleep", "300")
	if r.code != 0 {
		t.Fatal(r)
	}
	id := strings.TrimSpace(r.stdout)
	n.waitState(id, "running")
	var host int
	for pid := range n.groupHosts() {
		host = pid
	}
	j := n.job(id)
	switch p := schedPolicy(host); {
	case p == 2: // SCHED_RR applied
		if j.Note != "" {
			t.Errorf("rt applied but note %q", j.Note)
		}
	case strings.Contains(j.Note, "--rt 10 not applied") && strings.Contains(r.stderr, "--rt 10 not applied"):
		t.Logf("SCHED_RR refused here, and said so: %s", j.Note)
	default:
		t.Fatalf("group %d policy %d, job %+v, run stderr %q", host, p, j, r.stderr)
	}
	// Group options apply when a group is created; asking again says so.
	r = n.run("run", "--group", "rt", "--rt", "20", "sleep", "300")
	if r.code != 0 || !strings.Contains(r.stderr, "already runs with rt=10") {
		t.Fatalf("second --rt into the same group: %v", r)
	}

	prog := filepath.Join(t.TempDir(), "procs.go")
	os.WriteFile(prog, []byte("package main\n\nimport (\n\t\"fmt\"\n\t\"runtime\"\n)\n\nfunc main() { fmt.Println(runtime.GOMAXPROCS(0)) }\n"), 0o644)
	r = n.run("run", "-i", "--rm", "--group", "one", "--maxprocs", "1", prog)
	if r.code != 0 || strings.TrimSpace(r.stdout) != "1" {
		t.Fatalf("--maxprocs 1: %v", r)
	}
}
