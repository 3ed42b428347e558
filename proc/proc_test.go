package proc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/warren-mesh/warren/internal/testutil"
)

// testReaper runs for the whole test binary: the binary is a subreaper, so
// grandchildren orphaned by the tests come back to it and must be reaped.
var testReaper = &Reaper{Interval: 200 * time.Millisecond, MinAge: 100 * time.Millisecond}

func TestMain(m *testing.M) {
	if os.Getenv("PROC_TEST_HELPER") == "parent" {
		helperParent()
		return
	}
	if err := BecomeSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := testReaper.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	// No test may leave a child behind (running or zombie).
	deadline := time.Now().Add(10 * time.Second)
	for {
		kids, _ := childPIDs()
		if len(kids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "leftover child processes: %v\n", kids)
			code = 1
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = testReaper.Close(context.Background())
	os.Exit(code)
}

// helperParent is the re-executed test binary of TestPdeathsig: it starts a
// child through proc, prints its pid, and waits to be killed.
func helperParent() {
	p, err := Start(context.Background(), Spec{Path: "sleep", Args: []string{"1000"}})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println(p.PID())
	<-p.Done()
	os.Exit(1)
}

// startPiped starts s with stdout on a pipe and returns a line reader.
func startPiped(t *testing.T, ctx context.Context, s Spec) (*Process, *bufio.Reader) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	s.Stdout = w
	p, err := Start(ctx, s)
	w.Close()
	if err != nil {
		r.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.Stop(context.Background())
		r.Close()
	})
	return p, bufio.NewReader(r)
}

func readPID(t *testing.T, br *bufio.Reader) int {
	t.Helper()
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("read pid: %v (%q)", err, line)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("read pid: %v", err)
	}
	return pid
}

// gone waits until pid no longer exists at all (not even as a zombie).
func gone(t *testing.T, pids ...int) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, func() error {
		for _, pid := range pids {
			if st, err := ReadStat(pid); err == nil {
				return fmt.Errorf("pid %d still there, state %c", pid, st.State)
			}
		}
		return nil
	})
}

func TestStopTermThenKillWholeGroup(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	// The wrapper ignores SIGTERM, and so do its children (an ignored
	// disposition survives exec): only SIGKILL ends them.
	p, br := startPiped(t, context.Background(), Spec{
		Path:  "sh",
		Args:  []string{"-c", `trap "" TERM; sleep 1000 & echo $!; sleep 1000 & echo $!; wait`},
		Grace: 200 * time.Millisecond,
	})
	a, b := readPID(t, br), readPID(t, br)
	if !Alive(a) || !Alive(b) {
		t.Fatal("grandchildren not running")
	}
	if err := p.Stop(context.Background()); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if got := p.ExitCode(); got != 128+int(syscall.SIGKILL) {
		t.Fatalf("exit code %d, want %d (SIGKILL)", got, 128+int(syscall.SIGKILL))
	}
	if Alive(a) || Alive(b) {
		t.Fatal("a grandchild survived Stop")
	}
	gone(t, p.PID(), a, b)
	if err := p.Stop(context.Background()); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	if err := p.Signal(syscall.SIGTERM); !errors.Is(err, ErrDone) {
		t.Fatalf("signal after done: %v", err)
	}
}

func TestStopGraceful(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	// A long grace: the test only ends quickly if SIGTERM alone works.
	p, err := Start(context.Background(), Spec{Path: "sleep", Args: []string{"1000"}, Grace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := p.ExitCode(); got != 128+int(syscall.SIGTERM) {
		t.Fatalf("exit code %d, want 143", got)
	}
	var ee *exec.ExitError
	if !errors.As(p.Err(), &ee) {
		t.Fatalf("Err = %v, want *exec.ExitError", p.Err())
	}
}

func TestStopContextKills(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	p, err := Start(context.Background(), Spec{Path: "sh", Args: []string{"-c", `trap "" TERM; sleep 1000`}, Grace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, func() error {
		if len(GroupMembers(p.PID(), p.PID())) == 0 {
			return errors.New("sleep not started yet")
		}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Stop(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("stop with a done ctx: %v", err)
	}
	<-p.Done()
	if got := p.ExitCode(); got != 137 {
		t.Fatalf("exit code %d, want 137", got)
	}
}

func TestStartContextBoundsLife(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	ctx, cancel := context.WithCancel(context.Background())
	p, err := Start(ctx, Spec{Path: "sleep", Args: []string{"1000"}})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-p.Done()
	if got := p.ExitCode(); got != 143 {
		t.Fatalf("exit code %d, want 143", got)
	}
}

func TestExitCodesAndOutput(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	for _, tc := range []struct {
		script string
		code   int
		out    string
	}{
		{"echo hello", 0, "hello\n"},
		{"echo oops >&2; exit 3", 3, "oops\n"},
		{"kill -9 $$", 137, ""},
	} {
		t.Run(tc.script, func(t *testing.T) {
			var out strings.Builder
			p, err := Start(context.Background(), Spec{Path: "sh", Args: []string{"-c", tc.script}, Stdout: &out, Stderr: &out})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Wait(context.Background()); (err == nil) != (tc.code == 0) {
				t.Fatalf("wait: %v", err)
			}
			if p.ExitCode() != tc.code || out.String() != tc.out {
				t.Fatalf("got code %d output %q, want %d %q", p.ExitCode(), out.String(), tc.code, tc.out)
			}
		})
	}
}

func TestStartErrors(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	if _, err := Start(context.Background(), Spec{}); err == nil {
		t.Fatal("empty path accepted")
	}
	_, err := Start(context.Background(), Spec{Path: "/nonexistent/prog"})
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing program: %v", err)
	}
}

func TestLeaderExitClearsItsGroup(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	// The wrapper exits at once, leaving a background child in its group.
	p, br := startPiped(t, context.Background(), Spec{
		Path:  "sh",
		Args:  []string{"-c", `sleep 1000 & echo $!`},
		Grace: 200 * time.Millisecond,
	})
	kid := readPID(t, br)
	<-p.Done()
	if p.ExitCode() != 0 {
		t.Fatalf("exit code %d", p.ExitCode())
	}
	if Alive(kid) {
		t.Fatal("the leftover child survived its leader")
	}
	gone(t, kid)
}

func TestPdeathsig(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	helper, br := startPiped(t, context.Background(), Spec{
		Path: exe,
		Args: []string{"-test.run=^$"},
		Env:  append(os.Environ(), "PROC_TEST_HELPER=parent"),
	})
	child := readPID(t, br)
	if !Alive(child) {
		t.Fatal("child not running")
	}
	st, err := ReadStat(child)
	if err != nil || st.PPID != helper.PID() {
		t.Fatalf("child's parent is %d, want the helper %d (%v)", st.PPID, helper.PID(), err)
	}
	// SIGKILL the helper only: its child is in another process group, so
	// only Pdeathsig can end it.
	if err := syscall.Kill(helper.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-helper.Done()
	// The orphan comes back to this subreaper as a zombie and is reaped.
	gone(t, child)
}

func TestReaperReapsOrphan(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	before := testReaper.Reaped()
	// setsid takes the grandchild out of the group, so it outlives the
	// wrapper and is re-parented to us, the subreaper.
	// The wrapper waits for a line on stdin, so that it exits only once the
	// grandchild has left its group.
	in, release := io.Pipe()
	p, br := startPiped(t, context.Background(), Spec{
		Path:  "sh",
		Args:  []string{"-c", `setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo $!; read x`},
		Stdin: in,
	})
	orphan := readPID(t, br)
	testutil.Eventually(t, 5*time.Second, func() error {
		if st, err := ReadStat(orphan); err != nil || st.SID != orphan {
			return fmt.Errorf("grandchild not in its own session yet: %+v %v", st, err)
		}
		return nil
	})
	io.WriteString(release, "go\n")
	release.Close()
	<-p.Done()
	testutil.Eventually(t, 5*time.Second, func() error {
		st, err := ReadStat(orphan)
		if err != nil {
			return err
		}
		if st.PPID != os.Getpid() {
			return fmt.Errorf("orphan's parent is %d, want us (%d)", st.PPID, os.Getpid())
		}
		return nil
	})
	if err := syscall.Kill(orphan, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	gone(t, orphan)
	if testReaper.Reaped() <= before {
		t.Fatal("reaper did not count the orphan")
	}
}

func TestReaperLeavesStartedChildren(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	// Many short children exit while reaping runs on every SIGCHLD: each
	// must still report its own exit status.
	for i := 0; i < 30; i++ {
		p, err := Start(context.Background(), Spec{Path: "sh", Args: []string{"-c", "exit " + strconv.Itoa(i%7)}})
		if err != nil {
			t.Fatal(err)
		}
		testReaper.ReapOnce(nil)
		<-p.Done()
		if p.ExitCode() != i%7 {
			t.Fatalf("child %d: exit code %d, err %v", i, p.ExitCode(), p.Err())
		}
	}
}

func TestRlimits(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	pr, pw := io.Pipe()
	var out strings.Builder
	// The shell waits for a line so the limit is set before ulimit runs.
	p, err := Start(context.Background(), Spec{
		Path: "sh", Args: []string{"-c", "read x; ulimit -n"},
		Stdin: pr, Stdout: &out,
		Rlimits: []Rlimit{{Resource: unix.RLIMIT_NOFILE, Cur: 64, Max: 64}},
	})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(pw, "go\n")
	pw.Close()
	if err := p.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out.String()) != "64" {
		t.Fatalf("ulimit -n = %q, want 64", out.String())
	}
}

func TestWaitReady(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(204)
		case "/moved":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		default:
			w.WriteHeader(503)
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()
	addr := ln.Addr().String()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range []ReadyCheck{{}, {Addr: addr}, {Addr: addr, HTTPPath: "/ok"}, {Addr: addr, HTTPPath: "/moved"}} {
		if err := WaitReady(ctx, c); err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
	}

	// The deadline leaves the first probe time to get its answer on a
	// loaded machine; WaitReady keeps polling the 503 until then.
	short, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel2()
	if err := WaitReady(short, ReadyCheck{Addr: addr, HTTPPath: "/down"}); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("503 endpoint: %v", err)
	}

	// A closed port whose process has exited: ErrExited, not a timeout.
	free := testutil.FreePort(t)
	exited := make(chan struct{})
	close(exited)
	err = WaitReady(ctx, ReadyCheck{Addr: "127.0.0.1:" + strconv.Itoa(free), Exited: exited})
	if !errors.Is(err, ErrExited) {
		t.Fatalf("exited process: %v", err)
	}
}

func TestWaitReadyRealProcess(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	// A process that never listens and exits: ErrExited as soon as it ends.
	p, err := Start(context.Background(), Spec{Path: "sh", Args: []string{"-c", "exit 1"}})
	if err != nil {
		t.Fatal(err)
	}
	free := testutil.FreePort(t)
	err = WaitReady(context.Background(), ReadyCheck{Addr: "127.0.0.1:" + strconv.Itoa(free), Exited: p.Done()})
	if !errors.Is(err, ErrExited) {
		t.Fatalf("got %v", err)
	}
}

func TestReaperSparesExecChildren(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	// os/exec children are not registered; MinAge leaves them to their own
	// Wait even while SIGCHLD makes the reaper scan.
	for i := 0; i < 20; i++ {
		err := exec.Command("sh", "-c", "exit 3").Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 3 {
			t.Fatalf("run %d: %v (the reaper stole the child?)", i, err)
		}
	}
}

func TestSignalAndExtraFiles(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// fd 3 in the child is our pipe: the trap reports on it.
	p, br := startPiped(t, context.Background(), Spec{
		Path:       "sh",
		Args:       []string{"-c", `trap 'echo got-usr1 >&3; exit 0' USR1; echo ready; while :; do sleep 0.01; done`},
		ExtraFiles: []*os.File{w},
	})
	w.Close()
	if line, _ := br.ReadString('\n'); line != "ready\n" {
		t.Fatalf("got %q", line)
	}
	if err := p.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	got, _ := bufio.NewReader(r).ReadString('\n')
	if got != "got-usr1\n" {
		t.Fatalf("fd 3 got %q", got)
	}
	<-p.Done()
	if p.ExitCode() != 0 {
		t.Fatalf("exit %d", p.ExitCode())
	}
}
