package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warren-mesh/warren/internal/testutil"
)

// job is the subset of `ps -o json` the tests read.
type job struct {
	ID   string `json:"id"`
	Spec struct {
		Name  string   `json:"name"`
		Group string   `json:"group"`
		Path  string   `json:"path"`
		Args  []string `json:"args"`
	} `json:"spec"`
	State     string `json:"state"`
	PID       int    `json:"pid"`
	ExitCode  int    `json:"exit_code"`
	Error     string `json:"error"`
	Restarts  int    `json:"restarts"`
	Requester string `json:"requester"`
	ModeUsed  string `json:"mode_used"`
	Note      string `json:"note"`
}

func (n *node) jobs() []job {
	n.t.Helper()
	var js []job
	if err := json.Unmarshal([]byte(n.must("ps", "-o", "json")), &js); err != nil {
		n.t.Fatal(err)
	}
	return js
}

func (n *node) job(id string) job {
	n.t.Helper()
	var j job
	if err := json.Unmarshal([]byte(n.must("ps", id, "-o", "json")), &j); err != nil {
		n.t.Fatal(err)
	}
	return j
}

// requireGroups skips a test when the binary cannot host job groups (the
// hidden `warren __group` command is not registered in this build).
func (n *node) requireGroups() {
	n.t.Helper()
	if r := n.run("__group", "--help"); strings.Contains(r.stderr, "unknown command") {
		n.t.Skip("this build has no `warren __group`: job groups cannot run")
	}
}

// runJob runs `warren run args...` and returns the printed job ID.
func (n *node) runJob(args ...string) string {
	n.t.Helper()
	id := strings.TrimSpace(n.must(append([]string{"run"}, args...)...))
	if len(id) == 0 || strings.ContainsAny(id, " \n") {
		n.t.Fatalf("run printed %q, not a job ID", id)
	}
	return id
}

// waitState waits until the job is in one of the states.
func (n *node) waitState(id string, states ...string) job {
	n.t.Helper()
	var j job
	testutil.Eventually(n.t, 30*time.Second, func() error {
		j = n.job(id)
		for _, s := range states {
			if j.State == s {
				return nil
			}
		}
		return fmt.Errorf("job %s is %s (%+v), want %v", id, j.State, j, states)
	})
	return j
}

func alive(pid int) bool {
	s := procState(pid)
	return s != "" && s != "Z"
}

func TestJobLifecycle(t *testing.T) {
	n := newNode(t)
	n.requireGroups()
	n.start()
	id := n.runJob("--name", "sleeper", "sleep", "300")
	j := n.waitState(id, "running")
	if j.Spec.Name != "sleeper" || j.Spec.Path != "/usr/bin/sleep" && j.Spec.Path != "/bin/sleep" || !alive(j.PID) || !strings.HasPrefix(j.Requester, "uid=") {
		t.Fatalf("job %+v", j)
	}
	table := n.must("ps")
	for _, want := range []string{"ID", "GROUP", "NAME", "STATUS", "START", "UPTIME", "RESTARTS", id, "sleeper", "running"} {
		if !strings.Contains(table, want) {
			t.Errorf("ps lacks %q:\n%s", want, table)
		}
	}
	detail := n.must("ps", id)
	for _, want := range []string{"ID:", id, "Command:", "sleep 300", "Mode:", "Requester:", "uid="} {
		if !strings.Contains(detail, want) {
			t.Errorf("ps ID lacks %q:\n%s", want, detail)
		}
	}
	if got := lines(n.must("ps", "sleep*")); len(got) != 2 {
		t.Errorf("ps by name glob: %v", got)
	}
	if r := n.run("rm", id); r.code != 1 || !strings.Contains(r.stderr, "running") {
		t.Errorf("rm of a running job: %v", r)
	}
	pid := j.PID
	if out := strings.TrimSpace(n.must("stop", id)); out != id {
		t.Errorf("stop printed %q", out)
	}
	j = n.job(id)
	if j.State != "stopped" || alive(pid) {
		t.Fatalf("after stop: %+v, pid %d alive=%v", j, pid, alive(pid))
	}
	n.must("start", id)
	j = n.waitState(id, "running")
	if j.PID == pid || !alive(j.PID) {
		t.Fatalf("after start: %+v", j)
	}
	n.must("stop", id)
	n.must("rm", id)
	if js := n.jobs(); len(js) != 0 {
		t.Fatalf("after rm: %+v", js)
	}
	for _, cmd := range []string{"stop", "start", "rm", "ps"} {
		if r := n.run(cmd, "0123456789ab"); r.code != 1 || !strings.Contains(r.stderr, "0123456789ab") {
			t.Errorf("%s of an unknown ID: %v", cmd, r)
		}
	}
}

func TestRunArgsAndErrors(t *testing.T) {
	n := newNode(t)
	n.requireGroups()
	n.start()
	dir := t.TempDir()
	script := filepath.Join(dir, "args.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"args:$*\" \"dir:$(pwd)\" \"env:$GREETING\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Flags after the program path are the program's; the path is relative
	// to the caller's cwd, which is also the job's working directory.
	r := n.runIn(dir, nil, "run", "--env", "GREETING=hi", "./args.sh", "-h", "--rm", "x")
	if r.code != 0 {
		t.Fatal(r)
	}
	id := strings.TrimSpace(r.stdout)
	n.waitState(id, "exited")
	logOut := n.must("log", id)
	if !strings.Contains(logOut, "args:-h --rm x dir:"+dir+" env:hi") {
		t.Fatalf("log: %q", logOut)
	}
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"missing file", []string{"run", "nope.go"}, 1, "nope.go: no such file"},
		{"missing command", []string{"run", "no-such-command-warren"}, 1, "no such file, directory or command"},
		{"bad mode", []string{"run", "--mode", "fast", "sleep", "1"}, 2, "unknown --mode"},
		{"bad env", []string{"run", "--env", "NOEQUALS", "sleep", "1"}, 2, "KEY=VALUE"},
		{"bad restart", []string{"run", "--restart", "sometimes", "sleep", "1"}, 1, "sometimes"},
		{"bad group name", []string{"run", "--group", "../x", "sleep", "1"}, 1, "../x"},
		{"bad flag", []string{"run", "--frobnicate", "sleep"}, 2, "unknown flag"},
		{"no program", []string{"run"}, 2, "requires at least 1 arg"},
		{"bad -n", []string{"log", "-n", "-3", "x"}, 2, "-n"},
		{"bad kill pattern", []string{"kill", "[x"}, 2, "bad pattern"},
		{"unknown log", []string{"log", "0123456789ab"}, 1, "0123456789ab"},
		{"mv unknown", []string{"mv", "0123456789ab", "g"}, 1, "0123456789ab"},
		{"joblist load missing", []string{"joblist", "load", filepath.Join(dir, "none.yaml")}, 1, "none.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := n.run(tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.msg) {
				t.Fatalf("want exit %d with %q, got %v", tt.code, tt.msg, r)
			}
		})
	}
	// The daemon survived all of it.
	n.must("id")
}

func TestRunInteractive(t *testing.T) {
	n := newNode(t)
	n.requireGroups()
	n.start()
	r := n.runIn("", strings.NewReader("one\ntwo\n"), "run", "-i", "--rm", "sh", "-c", "tr a-z A-Z; exit 7")
	if r.code != 7 || r.stdout != "ONE\nTWO\n" {
		t.Fatalf("run -i: %v", r)
	}
	// --rm removed it.
	if js := n.jobs(); len(js) != 0 {
		t.Fatalf("jobs after run -i --rm: %+v", js)
	}
	r = n.runIn("", strings.NewReader(""), "run", "-i", "cat")
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("run -i cat with empty stdin: %v", r)
	}
}

func TestLogs(t *testing.T) {
	n := newNode(t)
	n.requireGroups()
	n.start()
	id := n.runJob("sh", "-c", "for i in 1 2 3; do echo line$i; done; echo oops >&2; sleep 1; echo late")
	r := n.run("log", "-f", id) // follows until the job ends
	if r.code != 0 {
		t.Fatal(r)
	}
	got := lines(r.stdout)
	// stdout and stderr are separate pipes: "oops" may land anywhere
	// before "late", but each stream keeps its order.
	var outLines []string
	for _, l := range got {
		if !strings.HasSuffix(l, " oops") {
			outLines = append(outLines, l[strings.IndexByte(l, ' ')+1:])
		}
	}
	if len(got) != 5 || strings.Join(outLines, ",") != "line1,line2,line3,late" || !strings.Contains(r.stdout, " oops\n") {
		t.Fatalf("log -f:\n%s", r.stdout)
	}
	if _, err := time.Parse(time.RFC3339Nano, strings.Fields(got[0])[0]); err != nil {
		t.Fatalf("log line has no timestamp: %q", got[0])
	}
	tail := lines(n.must("log", "-n", "2", id))
	if len(tail) != 2 || !strings.HasSuffix(tail[1], " late") {
		t.Fatalf("log -n 2: %v", tail)
	}
	if d := n.must("log", "daemon"); !strings.Contains(d, "daemon started") || !strings.Contains(d, "job started") {
		t.Fatalf("log daemon:\n%s", d)
	}
	if g := n.run("log", "default"); g.code != 0 {
		t.Fatalf("log of a group: %v", g)
	}
}

func TestKillAndMove(t *testing.T) {
	n := newNode(t)
	n.requireGroups()
	n.start()
	a := n.runJob("--group", "web1", "sleep", "300")
	b := n.runJob("--group", "web2", "sleep", "300")
	n.waitState(a, "running")
	n.waitState(b, "running")
	r := n.run("kill", "web*")
	if r.code != 1 || !strings.Contains(r.stderr, "running") {
		t.Fatalf("kill of busy groups without -f: %v", r)
	}
	// mv keeps the ID and restarts the job in the new group.
	out := n.must("mv", a, "web2")
	if !strings.Contains(out, a) || !strings.Contains(out, "web2") {
		t.Fatalf("mv printed %q", out)
	}
	j := n.waitState(a, "running")
	if j.Spec.Group != "web2" || j.ID != a {
		t.Fatalf("after mv: %+v", j)
	}
	killed := lines(n.must("kill", "-f", "web*"))
	if strings.Join(killed, ",") != "web1,web2" && strings.Join(killed, ",") != "web2" {
		t.Fatalf("kill -f web* killed %v", killed)
	}
	for _, id := range []string{a, b} {
		if j := n.job(id); j.State == "running" || alive(j.PID) && j.PID != 0 {
			t.Fatalf("job %s after kill -f: %+v", id, j)
		}
	}
	if r := n.run("kill", "nomatch*"); r.code == 0 && strings.TrimSpace(r.stdout) != "" {
		t.Fatalf("kill nomatch*: %v", r)
	}
}

func TestRestartPolicies(t *testing.T) {
	n := newNode(t)
	n.requireGroups()
	n.start()
	no := n.runJob("--restart", "no", "sh", "-c", "exit 1")
	limited := n.runJob("--restart", "on-failure:2", "sh", "-c", "exit 3")
	okOnce := n.runJob("--restart", "on-failure", "true")
	always := n.runJob("--restart", "always", "sh", "-c", "sleep 0.2; exit 0")

	if j := n.waitState(no, "failed"); j.Restarts != 0 || j.ExitCode != 1 {
		t.Errorf("no: %+v", j)
	}
	testutil.Eventually(t, 60*time.Second, func() error {
		if j := n.job(limited); j.State != "failed" || j.Restarts != 2 || j.ExitCode != 3 {
			return fmt.Errorf("on-failure:2: %+v", j)
		}
		return nil
	})
	if j := n.waitState(okOnce, "exited"); j.Restarts != 0 {
		t.Errorf("on-failure after success: %+v", j)
	}
	testutil.Eventually(t, 60*time.Second, func() error {
		if j := n.job(always); j.Restarts < 2 {
			return fmt.Errorf("always: %+v", j)
		}
		return nil
	})
	// A crash loop is quarantined, visibly.
	loop := n.runJob("--restart", "always", "false")
	j := n.waitState(loop, "quarantined")
	if !strings.Contains(n.must("ps"), "quarantined") {
		t.Fatalf("ps does not show the quarantine: %+v", j)
	}
	n.run("stop", always) // it may be quarantined by now: either way it must end
}

func TestJobListRoundTrip(t *testing.T) {
	n := newNode(t)
	n.requireGroups()
	n.start()
	n.runJob("--group", "ga", "--name", "a", "--restart", "on-failure:3", "sleep", "300")
	n.runJob("--group", "gb", "--name", "b", "--env", "X=1", "sleep", "301")
	file := filepath.Join(t.TempDir(), "jobs.yaml")
	n.must("joblist", "save", file)
	saved, err := os.ReadFile(file)
	if err != nil || !strings.Contains(string(saved), "on-failure:3") || !strings.Contains(string(saved), "X=1") {
		t.Fatalf("saved joblist %q %v", saved, err)
	}
	n.must("kill", "-f", "*")
	for _, j := range n.jobs() {
		n.must("rm", j.ID)
	}
	out := n.must("joblist", "load", file)
	if !strings.Contains(out, " a ") || !strings.Contains(out, " b ") {
		t.Fatalf("joblist load printed:\n%s", out)
	}
	js := n.jobs()
	if len(js) != 2 {
		t.Fatalf("after load: %+v", js)
	}
	for _, j := range js {
		n.waitState(j.ID, "running")
		if (j.Spec.Name == "a") != (j.Spec.Group == "ga") {
			t.Fatalf("group lost: %+v", j)
		}
	}
	again := filepath.Join(t.TempDir(), "again.yaml")
	n.must("joblist", "save", again)
	b, _ := os.ReadFile(again)
	if string(b) != string(saved) {
		t.Fatalf("round trip differs:\n%s\n---\n%s", saved, b)
	}
}

// groupHosts lists the PIDs of this node's group processes.
func (n *node) groupHosts() map[int]bool {
	out := map[int]bool{}
	for _, pid := range n.leftovers() {
		c, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if strings.Contains(string(c), "__group") {
			out[pid] = true
		}
	}
	return out
}

// A daemon killed with SIGKILL leaves its groups running; the next daemon
// re-adopts them with the same PIDs.
func TestDaemonKill9GroupsSurvive(t *testing.T) {
	n := newNode(t)
	n.requireGroups()
	n.start()
	id := n.runJob("--group", "keep", "sleep", "300")
	j := n.waitState(id, "running")
	hosts := n.groupHosts()
	if len(hosts) != 1 {
		t.Fatalf("group hosts: %v", hosts)
	}
	n.kill9()
	if !alive(j.PID) {
		t.Fatalf("job %d died with the daemon", j.PID)
	}
	n.start()
	j2 := n.waitState(id, "running")
	if j2.PID != j.PID {
		t.Fatalf("job pid %d -> %d: not re-adopted", j.PID, j2.PID)
	}
	if h := n.groupHosts(); fmt.Sprint(h) != fmt.Sprint(hosts) {
		t.Fatalf("group hosts %v -> %v", hosts, h)
	}
	n.must("stop", id)
}

// A group process killed with SIGKILL is restarted and its jobs resumed.
func TestGroupKill9Restarted(t *testing.T) {
	n := newNode(t)
	n.requireGroups()
	n.start()
	id := n.runJob("--group", "fragile", "--restart", "always", "sleep", "300")
	j := n.waitState(id, "running")
	hosts := n.groupHosts()
	if len(hosts) != 1 {
		t.Fatalf("group hosts: %v", hosts)
	}
	for pid := range hosts {
		if err := syscallKill(pid); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 60*time.Second, func() error {
		h := n.groupHosts()
		for pid := range hosts {
			if h[pid] {
				return fmt.Errorf("old host %d still there", pid)
			}
		}
		if len(h) != 1 {
			return fmt.Errorf("hosts %v", h)
		}
		j2 := n.job(id)
		if j2.State != "running" || j2.PID == j.PID || !alive(j2.PID) {
			return fmt.Errorf("job %+v", j2)
		}
		return nil
	})
	if alive(j.PID) {
		t.Fatalf("the old job process %d outlived its group", j.PID)
	}
	n.must("stop", id)
}

// Stopping an executable job ends its whole process group: a wrapper
// script's children do not survive as orphans.
func TestStopKillsWholeProcessGroup(t *testing.T) {
	n := newNode(t)
	n.requireGroups()
	n.start()
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	script := filepath.Join(dir, "wrapper.sh")
	os.WriteFile(script, []byte("#!/bin/sh\nsleep 301 & echo $! >> "+pids+"\nsleep 302 & echo $! >> "+pids+"\nwait\n"), 0o755)
	id := n.runJob(script)
	n.waitState(id, "running")
	var children []int
	testutil.Eventually(t, 30*time.Second, func() error {
		b, _ := os.ReadFile(pids)
		children = children[:0]
		for _, l := range lines(string(b)) {
			p, _ := strconv.Atoi(l)
			children = append(children, p)
		}
		if len(children) != 2 {
			return fmt.Errorf("children %v", children)
		}
		return nil
	})
	for _, p := range children {
		if !alive(p) {
			t.Fatalf("child %d not running", p)
		}
	}
	n.must("stop", id)
	testutil.Eventually(t, 30*time.Second, func() error {
		for _, p := range children {
			if alive(p) {
				return fmt.Errorf("child %d of the stopped job survives", p)
			}
		}
		return nil
	})
}

// Ctrl-C on `warren run -i` stops the interactive job: it does not outlive
// its terminal.
func TestInteractiveInterrupted(t *testing.T) {
	n := newNode(t)
	n.requireGroups()
	n.start()
	cmd := exec.Command(n.bin, "run", "-i", "--name", "held", "sleep", "300")
	cmd.Env = n.env()
	pr, pw, err := os.Pipe() // a stdin that never ends, like a terminal's
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	cmd.Stdin = pr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	var id string
	testutil.Eventually(t, 30*time.Second, func() error {
		for _, j := range n.jobs() {
			if j.Spec.Name == "held" && j.State == "running" {
				id = j.ID
				return nil
			}
		}
		return errors.New("interactive job not running yet")
	})
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	j := n.waitState(id, "stopped", "exited", "failed")
	if alive(j.PID) && j.PID != 0 {
		t.Fatalf("job process %d survives", j.PID)
	}
}
