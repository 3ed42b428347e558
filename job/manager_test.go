package job

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/warren-mesh/warren/internal/testutil"
	"github.com/warren-mesh/warren/proc"
	"github.com/warren-mesh/warren/service"
)

var bg = context.Background()

func TestExecutableLifecycle(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	m := e.start()
	path := e.script("svc.sh", `echo "started $1"; echo "to stderr" >&2; SLEEP`)
	st, err := m.Run(bg, Spec{Path: path, Args: []string{"one"}, Requester: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if st.ID == "" || st.Name != "svc.sh" || st.Group != DefaultGroup {
		t.Fatalf("status %+v", st)
	}
	st = waitState(t, m, st.ID, StateRunning)
	if !proc.Alive(st.PID) || st.ModeUsed != Executable || st.Requester != "test" {
		t.Fatalf("running job %+v", st)
	}
	testutil.Eventually(t, 10*time.Second, func() error {
		l := logsOf(t, m, st.ID)
		if !strings.Contains(l, "started one") || !strings.Contains(l, "to stderr") {
			return fmt.Errorf("log %q", l)
		}
		return nil
	})
	// Stop: the script and its sleep child die.
	if err := m.Stop(bg, st.ID); err != nil {
		t.Fatal(err)
	}
	stopped, _ := m.Get(st.ID)
	if stopped.State != StateStopped || proc.Alive(st.PID) {
		t.Fatalf("after stop: %+v alive=%v", stopped, proc.Alive(st.PID))
	}
	if err := m.Remove(bg, st.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Get(st.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get removed job: %v", err)
	}
	if _, err := os.Stat(jobLogPath(m.WorkDir, st.ID)); !os.IsNotExist(err) {
		t.Fatal("log file left after remove")
	}
	// The state file already says so: a daemon killed now must not give
	// the removed job back to its group.
	saved, err := loadState(statePath(m.WorkDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, js := range saved.Jobs {
		if js.Status.ID == st.ID {
			t.Fatalf("removed job still in the state file: %+v", js)
		}
	}
}

func TestStartStoppedJobAndRemoveRunning(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	m := e.start()
	st, err := m.Run(bg, Spec{Path: e.script("s.sh", "SLEEP"), Name: "sleeper"})
	if err != nil {
		t.Fatal(err)
	}
	first := waitState(t, m, st.ID, StateRunning)
	if err := m.Remove(bg, "sleeper"); !errors.Is(err, ErrRunning) {
		t.Fatalf("remove running: %v", err)
	}
	if err := m.StartJob(bg, st.ID); !errors.Is(err, ErrRunning) {
		t.Fatalf("start running: %v", err)
	}
	if err := m.Stop(bg, "sleeper"); err != nil {
		t.Fatal(err)
	}
	if err := m.StartJob(bg, "sleeper"); err != nil {
		t.Fatal(err)
	}
	second := waitState(t, m, st.ID, StateRunning)
	if second.PID == first.PID || second.ID != first.ID {
		t.Fatalf("restarted job: %+v after %+v", second, first)
	}
}

func TestExitCodesAndRestartPolicies(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	m := e.start()
	for _, tc := range []struct {
		name     string
		body     string
		restart  string
		state    State
		code     int
		restarts int
		errText  string
	}{
		{"ok", "exit 0", "no", StateExited, 0, 0, ""},
		{"fails", "exit 3", "no", StateFailed, 3, 0, "exit status 3"},
		{"on-failure bounded", "exit 1", "on-failure:2", StateFailed, 1, 2, "exit status 1"},
		{"on-failure after success", "exit 0", "on-failure", StateExited, 0, 0, ""},
		{"always loops into quarantine", "exit 0", "always", StateQuarantined, 0, 2, ""},
		{"on-failure loops into quarantine", "exit 7", "on-failure", StateQuarantined, 7, 2, "exit status 7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pol, err := ParseRestartPolicy(tc.restart)
			if err != nil {
				t.Fatal(err)
			}
			st, err := m.Run(bg, Spec{Path: e.script(strings.ReplaceAll(tc.name, " ", "_")+".sh", tc.body), Restart: pol})
			if err != nil {
				t.Fatal(err)
			}
			st = waitState(t, m, st.ID, tc.state)
			if st.ExitCode != tc.code || st.Restarts != tc.restarts || st.Error != tc.errText {
				t.Fatalf("got code %d restarts %d error %q; want %d %d %q", st.ExitCode, st.Restarts, st.Error, tc.code, tc.restarts, tc.errText)
			}
			if tc.state == StateQuarantined && !strings.Contains(st.Note, "crash loop") {
				t.Fatalf("quarantined without a note: %+v", st)
			}
		})
	}
	// A quarantined job starts again by hand.
	for _, st := range m.List() {
		if st.State == StateQuarantined && st.ExitCode == 7 {
			if err := m.StartJob(bg, st.ID); err != nil {
				t.Fatal(err)
			}
			waitState(t, m, st.ID, StateQuarantined)
		}
	}
}

func TestRestartAlwaysAfterCrash(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	m := e.start()
	st, err := m.Run(bg, Spec{Path: e.script("a.sh", "SLEEP"), Restart: RestartPolicy{Kind: RestartAlways}})
	if err != nil {
		t.Fatal(err)
	}
	first := waitState(t, m, st.ID, StateRunning)
	syscall.Kill(first.PID, syscall.SIGKILL)
	testutil.Eventually(t, 10*time.Second, func() error {
		st, _ := m.Get(first.ID)
		if st.State != StateRunning || st.PID == first.PID || st.Restarts != 1 {
			return fmt.Errorf("%+v", st)
		}
		return nil
	})
}

func TestInterpretedJobs(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	m := e.start()
	st, err := m.Run(bg, Spec{Path: e.goFile("hello.go", "//print hello\n//exit 4\n"), Args: []string{"a", "b"}, Mode: Interpreted})
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != "hello" {
		t.Fatalf("name %q", st.Name)
	}
	st = waitState(t, m, st.ID, StateFailed)
	if st.ExitCode != 4 || st.ModeUsed != Interpreted {
		t.Fatalf("%+v", st)
	}
	if l := logsOf(t, m, st.ID); !strings.Contains(l, "hello a b") {
		t.Fatalf("log %q", l)
	}
	// A panic is a failure with the message in the status.
	st, _ = m.Run(bg, Spec{Path: e.goFile("boom.go", "//panic boom\n")})
	st = waitState(t, m, st.ID, StateFailed)
	if !strings.Contains(st.Error, "panic: boom") {
		t.Fatalf("%+v", st)
	}
	// A blocking program stops by cancellation.
	st, _ = m.Run(bg, Spec{Path: e.goFile("block.go", "//block\n")})
	waitState(t, m, st.ID, StateRunning)
	if err := m.Stop(bg, st.ID); err != nil {
		t.Fatal(err)
	}
	waitState(t, m, st.ID, StateStopped)
}

func TestBadInput(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	m := e.start()
	for _, s := range []Spec{
		{},
		{Path: "/nonexistent/prog"},
		{Path: e.script("x.sh", "true"), Group: "bad name"},
		{Path: e.script("x.sh", "true"), Mode: "jit"},
		{Path: e.script("x.sh", "true"), Env: []string{"NOEQUALS"}},
		{Path: e.script("x.sh", "true"), RTPrio: 100},
		{Path: e.script("x.sh", "true"), Group: strings.Repeat("g", 64)}, // socket path too long
	} {
		if _, err := m.Run(bg, s); !errors.Is(err, ErrBadSpec) {
			t.Errorf("Run(%+v) = %v, want ErrBadSpec", s, err)
		}
	}
	if _, err := m.Get("feedface0000"); !errors.Is(err, ErrNotFound) {
		t.Errorf("get unknown: %v", err)
	}
	for _, f := range []func() error{
		func() error { return m.Stop(bg, "nope") },
		func() error { return m.StartJob(bg, "nope") },
		func() error { return m.Remove(bg, "nope") },
		func() error { return m.Move(bg, "nope", "g") },
		func() error { return m.KillGroup(bg, "nope*", false) },
		func() error { return m.Logs(bg, "nope", 0, false, &bytes.Buffer{}) },
	} {
		if err := f(); !errors.Is(err, ErrNotFound) {
			t.Errorf("got %v, want ErrNotFound", err)
		}
	}
	if err := m.KillGroup(bg, "[", false); !errors.Is(err, ErrBadSpec) {
		t.Errorf("bad pattern: %v", err)
	}
}

func TestParseRestartPolicy(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want RestartPolicy
		ok   bool
	}{
		{"", RestartPolicy{Kind: "no"}, true},
		{"no", RestartPolicy{Kind: "no"}, true},
		{"always", RestartPolicy{Kind: "always"}, true},
		{"on-failure", RestartPolicy{Kind: "on-failure"}, true},
		{"on-failure:3", RestartPolicy{Kind: "on-failure", MaxRetries: 3}, true},
		{"on-failure:-1", RestartPolicy{}, false},
		{"on-failure:x", RestartPolicy{}, false},
		{"always:3", RestartPolicy{}, false},
		{"sometimes", RestartPolicy{}, false},
	} {
		got, err := ParseRestartPolicy(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseRestartPolicy(%q) = %+v, %v", tc.in, got, err)
		}
		if tc.ok && tc.in != "" {
			if got.String() != tc.in {
				t.Errorf("String() = %q, want %q", got.String(), tc.in)
			}
		}
	}
}

func TestPersistenceAndReadoption(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	m1 := e.manager()
	if err := m1.Start(bg); err != nil {
		t.Fatal(err)
	}
	a, err := m1.Run(bg, Spec{Path: e.script("a.sh", "SLEEP"), Group: "ga"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := m1.Run(bg, Spec{Path: e.script("b.sh", "SLEEP"), Group: "gb", Restart: RestartPolicy{Kind: RestartAlways}})
	if err != nil {
		t.Fatal(err)
	}
	a = waitState(t, m1, a.ID, StateRunning)
	b = waitState(t, m1, b.ID, StateRunning)
	groups := map[string]int{}
	for _, g := range m1.Groups() {
		groups[g.Name] = g.PID
	}
	// The Manager goes away (as a daemon killed with SIGKILL would); its
	// groups must not notice.
	if err := m1.Close(bg); err != nil {
		t.Fatal(err)
	}
	m2 := e.start()
	for name, pid := range groups {
		waitGroup(t, m2, name, func(g GroupStatus) error {
			if g.State != GroupRunning || !g.Adopted || g.PID != pid {
				return fmt.Errorf("group %+v, want running, adopted, pid %d", g, pid)
			}
			return nil
		})
	}
	for _, old := range []Status{a, b} {
		st := waitState(t, m2, old.ID, StateRunning)
		if st.PID != old.PID || st.Restarts != 0 {
			t.Fatalf("job after re-adoption %+v, want pid %d", st, old.PID)
		}
	}
	// The re-adopted channel works both ways: a stop goes through, and
	// the new Manager sees the restart of a crashed job.
	if err := m2.Stop(bg, a.ID); err != nil {
		t.Fatal(err)
	}
	if proc.Alive(a.PID) {
		t.Fatal("job survived stop through a re-adopted group")
	}
	syscall.Kill(b.PID, syscall.SIGKILL)
	testutil.Eventually(t, 10*time.Second, func() error {
		st, _ := m2.Get(b.ID)
		if st.State != StateRunning || st.Restarts != 1 {
			return fmt.Errorf("%+v", st)
		}
		return nil
	})
	// Kill the first manager's leftover ownership: its proc waiters end
	// when the groups die, in the cleanup.
}

// A daemon killed before its state file caught up (the save follows a
// change by a moment) must still find the group hosts and jobs that run:
// the hosts are the truth. A socket a dead host left adopts nothing.
func TestReadoptionWithoutState(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	m1 := e.manager()
	if err := m1.Start(bg); err != nil {
		t.Fatal(err)
	}
	a, err := m1.Run(bg, Spec{Path: e.script("a.sh", "SLEEP"), Group: "lost", MaxProcs: 1})
	if err != nil {
		t.Fatal(err)
	}
	a = waitState(t, m1, a.ID, StateRunning)
	// A job defined stopped (as a job list's "stopped": true does).
	bspec := Spec{Path: e.script("b.sh", "SLEEP"), Group: "lost"}
	if err := bspec.normalize(); err != nil {
		t.Fatal(err)
	}
	b, err := m1.create(bg, bspec, false)
	if err != nil {
		t.Fatal(err)
	}
	pid := m1.Groups()[0].PID
	// Only the new Manager would stop the host: a failing run must not
	// leave it (and its job) behind.
	t.Cleanup(func() {
		proc.KillSession(pid, syscall.SIGKILL)
		syscall.Kill(pid, syscall.SIGKILL)
	})
	if err := m1.Close(bg); err != nil {
		t.Fatal(err)
	}
	// What the crash left: no state at all, and a dead host's socket that
	// sorts before the live one.
	if err := os.WriteFile(statePath(m1.WorkDir), []byte(`{"version":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ghost := sockPathRaw(m1.sockDir(), "a-ghost")
	l, err := net.Listen("unix", ghost)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()

	m2 := e.start()
	waitGroup(t, m2, "lost", func(g GroupStatus) error {
		if g.State != GroupRunning || !g.Adopted || g.PID != pid || g.MaxProcs != 1 {
			return fmt.Errorf("group %+v, want running, adopted, pid %d, maxprocs 1", g, pid)
		}
		return nil
	})
	st := waitState(t, m2, a.ID, StateRunning)
	if st.PID != a.PID || st.Path != a.Path {
		t.Fatalf("job after re-adoption %+v, want pid %d", st, a.PID)
	}
	// The stopped one is adopted stopped: a later resume leaves it alone.
	waitState(t, m2, b.ID, StateCreated)
	m2.mu.Lock()
	bw := m2.jobs[b.ID].want
	m2.mu.Unlock()
	if bw != wantStopped {
		t.Fatalf("job defined stopped adopted as want %q", bw)
	}
	if err := m2.Remove(bg, b.ID); err != nil {
		t.Fatal(err)
	}
	for _, g := range m2.Groups() {
		if g.Name != "lost" {
			t.Fatalf("a dead host's socket made group %+v", g)
		}
	}
	// The adopted job is the new Manager's like any other, and saved.
	if err := m2.Stop(bg, a.ID); err != nil {
		t.Fatal(err)
	}
	if proc.Alive(a.PID) {
		t.Fatal("adopted job survived stop")
	}
	testutil.Eventually(t, 5*time.Second, func() error {
		saved, err := loadState(statePath(m2.WorkDir))
		if err != nil || len(saved.Jobs) != 1 || saved.Jobs[0].Status.ID != a.ID || saved.Jobs[0].Status.State != StateStopped {
			return fmt.Errorf("saved state %+v, %v", saved, err)
		}
		return nil
	})
}

func TestGroupHostKilledIsRestartedAndJobsResumed(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	m := e.start()
	st, err := m.Run(bg, Spec{Path: e.script("w.sh", "SLEEP"), Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	st = waitState(t, m, st.ID, StateRunning)
	g := waitGroup(t, m, "g", func(GroupStatus) error { return nil })
	if err := syscall.Kill(g.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	g2 := waitGroup(t, m, "g", func(n GroupStatus) error {
		if n.PID == g.PID || n.State != GroupRunning || n.Restarts != 1 {
			return fmt.Errorf("group %+v", n)
		}
		return nil
	})
	st2 := waitState(t, m, st.ID, StateRunning)
	if st2.PID == st.PID {
		t.Fatal("job pid unchanged after its group died")
	}
	// Pdeathsig took the old job process down with its host.
	testutil.Eventually(t, 10*time.Second, func() error {
		if proc.Alive(st.PID) {
			return fmt.Errorf("old job %d alive", st.PID)
		}
		return nil
	})
	_ = g2
}

func TestGroupCrashLoopQuarantined(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	m := e.start()
	st, err := m.Run(bg, Spec{Path: e.script("w.sh", "SLEEP"), Group: "crashy"})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, m, st.ID, StateRunning)
	last := 0
	for i := 0; i < 3; i++ {
		g := waitGroup(t, m, "crashy", func(g GroupStatus) error {
			if g.State != GroupRunning || g.PID == last {
				return fmt.Errorf("%+v", g)
			}
			return nil
		})
		last = g.PID
		syscall.Kill(g.PID, syscall.SIGKILL)
	}
	waitGroup(t, m, "crashy", func(g GroupStatus) error {
		if g.State != GroupQuarantined || !strings.Contains(g.Note, "crash loop") {
			return fmt.Errorf("%+v", g)
		}
		return nil
	})
	q := waitState(t, m, st.ID, StateQuarantined)
	if !strings.Contains(q.Note, "crash loop") {
		t.Fatalf("job note %q", q.Note)
	}
	if _, err := m.Run(bg, Spec{Path: e.script("x.sh", "true"), Group: "crashy"}); !errors.Is(err, ErrGroupFailed) {
		t.Fatalf("run into a quarantined group: %v", err)
	}
	// Killing the group clears the quarantine; the job can start again.
	if err := m.KillGroup(bg, "crashy", true); err != nil {
		t.Fatal(err)
	}
	if err := m.StartJob(bg, st.ID); err != nil {
		t.Fatal(err)
	}
	waitState(t, m, st.ID, StateRunning)
}

func TestKillGroupWildcardAndForce(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	m := e.start()
	busy, err := m.Run(bg, Spec{Path: e.script("busy.sh", "SLEEP"), Group: "web1"})
	if err != nil {
		t.Fatal(err)
	}
	idle, err := m.Run(bg, Spec{Path: e.script("idle.sh", "true"), Group: "web2"})
	if err != nil {
		t.Fatal(err)
	}
	db, err := m.Run(bg, Spec{Path: e.script("db.sh", "SLEEP"), Group: "db"})
	if err != nil {
		t.Fatal(err)
	}
	busy = waitState(t, m, busy.ID, StateRunning)
	waitState(t, m, idle.ID, StateExited)
	waitState(t, m, db.ID, StateRunning)

	if err := m.KillGroup(bg, "web*", false); !errors.Is(err, ErrGroupBusy) {
		t.Fatalf("kill busy without force: %v", err)
	}
	if got, err := m.KillGroups(bg, "web2", false); err != nil || len(got) != 1 {
		t.Fatalf("kill idle group: %v %v", got, err)
	}
	web1 := waitGroup(t, m, "web1", func(GroupStatus) error { return nil })
	got, err := m.KillGroups(bg, "web*", true)
	if err != nil || len(got) != 1 || got[0] != "web1" {
		t.Fatalf("kill web* -f: %v %v", got, err)
	}
	if proc.Alive(busy.PID) || proc.Alive(web1.PID) {
		t.Fatal("a job or host of a killed group survived")
	}
	st, _ := m.Get(busy.ID)
	if st.State != StateStopped {
		t.Fatalf("job of killed group: %+v", st)
	}
	for _, g := range m.Groups() {
		if strings.HasPrefix(g.Name, "web") {
			t.Fatalf("group %s still listed", g.Name)
		}
	}
	// The state file already says so: the next daemon must not bring the
	// killed groups back.
	saved, err := loadState(statePath(m.WorkDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range saved.Groups {
		if strings.HasPrefix(g.Name, "web") {
			t.Fatalf("killed group %s still in the state file", g.Name)
		}
	}
	if st, _ := m.Get(db.ID); st.State != StateRunning {
		t.Fatalf("db job hit by web* kill: %+v", st)
	}
}

func TestMove(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	m := e.start()
	st, err := m.Run(bg, Spec{Path: e.script("m.sh", "SLEEP"), Group: "from"})
	if err != nil {
		t.Fatal(err)
	}
	st = waitState(t, m, st.ID, StateRunning)
	if err := m.Move(bg, st.ID, "to"); err != nil {
		t.Fatal(err)
	}
	// The state file says so before the new group runs it: a daemon killed
	// now must not start the job in its old group again.
	saved, err := loadState(statePath(m.WorkDir))
	if err != nil || len(saved.Jobs) != 1 || saved.Jobs[0].Status.Group != "to" {
		t.Fatalf("state file after the move: %+v %v", saved.Jobs, err)
	}
	moved := waitState(t, m, st.ID, StateRunning)
	if moved.Group != "to" || moved.PID == st.PID || moved.ID != st.ID {
		t.Fatalf("moved %+v from %+v", moved, st)
	}
	if proc.Alive(st.PID) {
		t.Fatal("old process survived the move")
	}
	to := waitGroup(t, m, "to", func(GroupStatus) error { return nil })
	if to.Jobs != 1 {
		t.Fatalf("group to: %+v", to)
	}
	if err := m.Move(bg, st.ID, "bad/name"); !errors.Is(err, ErrBadSpec) {
		t.Fatalf("move to bad group: %v", err)
	}
}

func TestJobListRoundTrip(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	m := e.start()
	runner := e.script("r.sh", "SLEEP")
	if _, err := m.Run(bg, Spec{Path: runner, Name: "web", Group: "g1", Args: []string{"-p", "80"}, Env: []string{"A=1"},
		Restart: RestartPolicy{Kind: RestartOnFailure, MaxRetries: 3}, MaxProcs: 2}); err != nil {
		t.Fatal(err)
	}
	st, err := m.Run(bg, Spec{Path: runner, Name: "idle", Group: "g2"})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, m, st.ID, StateRunning)
	if err := m.Stop(bg, st.ID); err != nil {
		t.Fatal(err)
	}
	var saved bytes.Buffer
	if err := m.SaveJobList(&saved); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"name: web", "restart: on-failure:3", "maxprocs: 2", "stopped: true", "- A=1"} {
		if !strings.Contains(saved.String(), want) {
			t.Fatalf("saved list lacks %q:\n%s", want, saved.String())
		}
	}
	// Load into a fresh work dir.
	e2 := newEnv(t)
	m2 := e2.start()
	if err := m2.LoadJobList(bg, bytes.NewReader(saved.Bytes())); err != nil {
		t.Fatal(err)
	}
	jobs := m2.List()
	if len(jobs) != 2 {
		t.Fatalf("loaded %d jobs", len(jobs))
	}
	for _, j := range jobs {
		switch j.Name {
		case "web":
			j = waitState(t, m2, j.ID, StateRunning)
			if j.Group != "g1" || j.Args[1] != "80" || j.Restart.MaxRetries != 3 || j.MaxProcs != 2 {
				t.Fatalf("web %+v", j)
			}
		case "idle":
			if j.State != StateCreated {
				t.Fatalf("stopped job was started: %+v", j)
			}
		}
	}
	var again bytes.Buffer
	if err := m2.SaveJobList(&again); err != nil {
		t.Fatal(err)
	}
	if again.String() != saved.String() {
		t.Fatalf("round trip differs:\n%s\n---\n%s", saved.String(), again.String())
	}
	// The loaded web job runs a marked sleep of e's: stop it before e's
	// leftover check.
	if _, err := m2.KillGroups(bg, "*", true); err != nil {
		t.Fatal(err)
	}
}

func TestJobListErrors(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"", "empty document"},
		{"jobs:\n  - path: /bin/true\n    colour: red\n", "colour"},
		{"jobs:\n  - name: x\n", "jobs[0].path"},
		{"jobs:\n  - path: /bin/true\n    restart: sometimes\n", "jobs[0].restart"},
		{"groups:\n  - name: a\n  - name: a\njobs: []\n", "groups[1].name"},
		{"groups:\n  - name: a\n    rt: 200\njobs: []\n", "groups[0].rt"},
		{"version: 9\njobs: []\n", "version 9"},
		{"options:\n  mode: jit\njobs: []\n", "options.mode"},
		{"jobs:\n  - path: /bin/true\n  - path: /bin/false\n    colour: red\n", "jobs[1].colour: unknown field"},
		{"groups:\n  - name: a\n    max_procs: 2\njobs: []\n", "groups[0].max_procs: unknown field (known: name, rt, maxprocs)"},
		{"option:\n  mode: auto\njobs: []\n", "option: unknown field"},
	} {
		_, _, err := ParseJobList([]byte(tc.doc))
		if !errors.Is(err, ErrBadSpec) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseJobList(%q) = %v, want an error naming %q", tc.doc, err, tc.want)
		}
	}
	_, specs, err := ParseJobList([]byte("options:\n  group: g\n  restart: always\njobs:\n  - path: /bin/true\n  - path: /bin/false\n    restart: \"no\"\n"))
	if err != nil || specs[0].Group != "g" || specs[0].Restart.Kind != RestartAlways || specs[1].Restart.Kind != RestartNo {
		t.Fatalf("options defaults: %+v %v", specs, err)
	}
}

func TestRun100Concurrently(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	m := e.start()
	path := e.script("many.sh", "SLEEP")
	const n = 100
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := m.Run(bg, Spec{Path: path, Group: "many", Name: fmt.Sprintf("j%d", i)})
			if err != nil {
				errs <- err
				return
			}
			ids[i] = st.ID
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	testutil.Eventually(t, 60*time.Second, func() error {
		running := 0
		var notYet []string
		for _, st := range m.List("many") {
			if st.State == StateRunning && proc.Alive(st.PID) {
				running++
			} else {
				notYet = append(notYet, fmt.Sprintf("%s %s pid %d seq %d alive %v err %q", st.ID, st.State, st.PID, st.Seq, proc.Alive(st.PID), st.Error))
			}
		}
		if running != n {
			return fmt.Errorf("%d of %d running; not yet: %v", running, n, notYet)
		}
		return nil
	})
	if gs := m.Groups(); len(gs) != 1 || gs[0].Jobs != n {
		t.Fatalf("groups %+v", gs)
	}
}

func TestAttachInteractive(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	m := e.start()
	for _, tc := range []struct {
		name, path string
	}{
		{"interpreted", e.goFile("echo.go", "//echo\n//exit 5\n")},
		{"executable", e.script("cat.sh", "cat; exit 5")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := m.Run(bg, Spec{Path: tc.path, Interactive: true, AutoRemove: true})
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			code, err := m.Attach(bg, st.ID, strings.NewReader("line one\nline two\n"), &out)
			if err != nil || code != 5 || out.String() != "line one\nline two\n" {
				t.Fatalf("attach: code %d err %v out %q", code, err, out.String())
			}
			// --rm: the job is gone by the time Attach returns (the
			// host's report of the end comes on another stream than the
			// exit; `warren run -i --rm` then `warren ps` showed it running).
			if got, err := m.Get(st.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("after attach returned: %+v %v, want it removed", got, err)
			}
		})
	}
}

func TestLogsFollowUntilExit(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	m := e.start()
	gate := e.wd + "/gate"
	// The job prints, waits for the test to open the gate, prints more, exits.
	st, err := m.Run(bg, Spec{Path: e.script("f.sh", `echo first; while [ ! -e `+gate+` ]; do sleep 0.01; done; echo second; echo third`)})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() error {
		if !strings.Contains(logsOf(t, m, st.ID), "first") {
			return errors.New("no first line yet")
		}
		return nil
	})
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- m.Logs(bg, st.ID, 1, true, &syncWriter{w: &out}) }()
	os.WriteFile(gate, nil, 0o644)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasSuffix(lines[0], " first") || !strings.HasSuffix(lines[2], " third") {
		t.Fatalf("followed log %q", out.String())
	}
	if _, err := time.Parse(proc.TimeLayout, strings.Fields(lines[1])[0]); err != nil {
		t.Fatalf("no timestamp: %q", lines[1])
	}
	// The group's own log is readable too.
	var gl bytes.Buffer
	if err := m.Logs(bg, DefaultGroup, 0, false, &gl); err != nil || !strings.Contains(gl.String(), "group host started") {
		t.Fatalf("group log %q %v", gl.String(), err)
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  interface {
		Write([]byte) (int, error)
		String() string
	}
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

func TestGroupOptionsRTAndMaxProcs(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	m := e.start()
	st, err := m.Run(bg, Spec{Path: e.script("rt.sh", "SLEEP"), Group: "rt", RTPrio: 10, MaxProcs: 1})
	if err != nil {
		t.Fatal(err)
	}
	st = waitState(t, m, st.ID, StateRunning)
	g := waitGroup(t, m, "rt", func(GroupStatus) error { return nil })
	if g.GOMAXPROCS != 1 || g.MaxProcs != 1 || g.RTPrio != 10 {
		t.Fatalf("group %+v", g)
	}
	policy := schedPolicy(t, g.PID)
	if g.Realtime {
		// Permitted here: the host really runs under SCHED_RR (2).
		if policy != 2 || g.Note != "" {
			t.Fatalf("realtime group has policy %d, note %q", policy, g.Note)
		}
	} else {
		// Refused: normal scheduling, and a clear warning on group and job.
		if policy != 0 || !strings.Contains(g.Note, "--rt 10 not applied") || !strings.Contains(st.Note, "--rt 10 not applied") {
			t.Fatalf("refused rt: policy %d, group note %q, job note %q", policy, g.Note, st.Note)
		}
	}
	// A second job asking other options of the existing group is told so.
	st2, err := m.Run(bg, Spec{Path: e.script("rt2.sh", "true"), Group: "rt", MaxProcs: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(st2.Note, "apply when a group is created") {
		t.Fatalf("note %q", st2.Note)
	}
}

// schedPolicy reads field 41 (policy) of /proc/PID/stat.
func schedPolicy(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	var p int
	fmt.Sscan(f[41-3], &p)
	return p
}

func TestHostDiedWhileManagerWasDown(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	m1 := e.manager()
	if err := m1.Start(bg); err != nil {
		t.Fatal(err)
	}
	st, err := m1.Run(bg, Spec{Path: e.script("w.sh", "SLEEP"), Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	st = waitState(t, m1, st.ID, StateRunning)
	old := waitGroup(t, m1, "g", func(GroupStatus) error { return nil })
	if err := m1.Close(bg); err != nil {
		t.Fatal(err)
	}
	// The host dies while no Manager watches it.
	syscall.Kill(old.PID, syscall.SIGKILL)
	testutil.Eventually(t, 10*time.Second, func() error {
		if proc.Alive(old.PID) {
			return errors.New("host still alive")
		}
		return nil
	})
	m2 := e.start()
	g := waitGroup(t, m2, "g", func(g GroupStatus) error {
		if g.State != GroupRunning || g.PID == old.PID || g.Adopted {
			return fmt.Errorf("%+v", g)
		}
		return nil
	})
	testutil.Eventually(t, 20*time.Second, func() error {
		resumed, err := m2.Get(st.ID)
		if err != nil || resumed.State != StateRunning || resumed.PID == st.PID || resumed.PID == 0 {
			return fmt.Errorf("job not resumed yet: %+v %v", resumed, err)
		}
		return nil
	})
	// What the dead host's job left (its sleep child) was cleared.
	testutil.Eventually(t, 10*time.Second, func() error {
		n := 0
		for _, p := range e.procs() {
			if strings.Contains(p, "sleep "+e.mark) {
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf("%d marked sleeps, want the resumed job's only", n)
		}
		return nil
	})
	_ = g
}

func TestInterpretedStopAbandonsStuckProgram(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	m := e.manager()
	m.Grace = 200 * time.Millisecond
	if err := m.Start(bg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.shutdown(m) })
	st, err := m.Run(bg, Spec{Path: e.goFile("stuck.go", "//stuck\n")})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, m, st.ID, StateRunning)
	if err := m.Stop(bg, st.ID); err != nil {
		t.Fatal(err)
	}
	got := waitState(t, m, st.ID, StateStopped)
	if got.ExitCode != -1 {
		t.Fatalf("%+v", got)
	}
}

func TestGroupServiceInSharedSocketDir(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	m := e.manager()
	m.SocketDir = e.wd + "/sock"
	if err := m.Start(bg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.shutdown(m) })
	st, err := m.Run(bg, Spec{Path: e.script("s.sh", "SLEEP"), Group: "svc"})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, m, st.ID, StateRunning)
	// Any client of that socket dir sees the group's control service.
	c := service.NewClient(service.WithScope(service.ScopeOS), service.WithSocketDir(m.SocketDir))
	infos, err := c.List(bg, "*")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, in := range infos {
		if in.Publisher == "warren" && in.Service == "group.svc" {
			found = true
		}
	}
	if !found {
		t.Fatalf("services %+v", infos)
	}
}

// Managers of two work dirs may share a socket dir: neither adopts the
// other's group hosts when it looks for hosts its state file lacks.
func TestDiscoverIgnoresOtherWorkDirs(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	socks := filepath.Join(e.wd, "socks")
	start := func(wd string) *Manager {
		m := e.manager()
		m.WorkDir, m.SocketDir = filepath.Join(e.wd, wd), socks
		if err := m.Start(bg); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.shutdown(m) })
		return m
	}
	a := start("a")
	st, err := a.Run(bg, Spec{Path: e.script("a.sh", "SLEEP"), Group: "ga"})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, a, st.ID, StateRunning)
	b := start("b")
	b.discoverHosts() // what Start began, done here to its end
	if gs := b.Groups(); len(gs) != 0 {
		t.Fatalf("manager of work dir b adopted %+v", gs)
	}
	// Its own hosts it does find: a state file lost, a's host is still a's.
	a.discoverHosts()
	if gs := a.Groups(); len(gs) != 1 || gs[0].Name != "ga" {
		t.Fatalf("manager a groups %+v", gs)
	}
}

// An auto-remove job its policy restarts is removed after its last run,
// not after the first: each run leaves a line, and all three are there
// when the job is gone.
func TestAutoRemoveWaitsForTheLastRestart(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	m := e.start()
	runs := filepath.Join(e.wd, "runs")
	pol, err := ParseRestartPolicy("on-failure:2")
	if err != nil {
		t.Fatal(err)
	}
	st, err := m.Run(bg, Spec{Path: e.script("rm.sh", "echo run >> "+runs+"; exit 1"), Restart: pol, AutoRemove: true})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, func() error {
		if _, err := m.Get(st.ID); err == nil {
			return errors.New("job still listed")
		}
		return nil
	})
	b, err := os.ReadFile(runs)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "run\n"); n != 3 {
		t.Fatalf("removed after %d runs, want 3 (the first and two restarts)", n)
	}
}
