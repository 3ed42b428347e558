package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/warren-mesh/warren/internal/testutil"
)

// node is one daemon under test with its own work dir.
type node struct {
	t       testing.TB
	bin     string
	workDir string
	home    string // $HOME for commands, so nothing touches the real one
	// daemonEnv is added to the daemon's environment only.
	daemonEnv []string

	mu     sync.Mutex
	daemon *exec.Cmd
	done   chan struct{}
	stderr *testutil.SafeBuffer
}

// newNode prepares a work dir and registers the end-of-test checks: the
// daemon is stopped, every job group killed, and no process that belongs to
// the work dir may remain.
func newNode(t testing.TB) *node {
	t.Helper()
	n := &node{t: t, bin: testutil.WarrenBinary(t), workDir: filepath.Join(t.TempDir(), "wd"), home: t.TempDir()}
	t.Cleanup(n.cleanup)
	return n
}

func (n *node) env() []string {
	env := []string{}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "WARREN_WORKDIR=") || strings.HasPrefix(kv, "NOTIFY_SOCKET=") || strings.HasPrefix(kv, "HOME=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "WARREN_WORKDIR="+n.workDir, "HOME="+n.home)
}

// start starts the daemon and waits until it answers `warren id`.
func (n *node) start() {
	n.t.Helper()
	n.startNoWait()
	testutil.Eventually(n.t, 20*time.Second, func() error {
		select {
		case <-n.done:
			return fmt.Errorf("daemon exited: %s", n.stderr.String())
		default:
		}
		r := n.run("id")
		if r.code != 0 {
			return fmt.Errorf("warren id: %d %s", r.code, r.stderr)
		}
		return nil
	})
}

func (n *node) startNoWait() {
	n.t.Helper()
	cmd := exec.Command(n.bin, "daemon", "--log-level", "debug", "--log-format", "text")
	cmd.Env = append(n.env(), n.daemonEnv...)
	buf := &testutil.SafeBuffer{}
	cmd.Stdout = buf
	cmd.Stderr = buf
	// The daemon gets its own process group so that the test's cleanup can
	// tell its processes from the test binary's.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	n.mu.Lock()
	n.daemon, n.done, n.stderr = cmd, done, buf
	n.mu.Unlock()
}

// pid is the running daemon's PID.
func (n *node) pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.daemon.Process.Pid
}

// stop sends SIGTERM and waits for the daemon to exit.
func (n *node) stop() {
	n.t.Helper()
	n.signal(syscall.SIGTERM)
}

// kill9 kills the daemon with SIGKILL and waits for it.
func (n *node) kill9() {
	n.t.Helper()
	n.signal(syscall.SIGKILL)
}

func (n *node) signal(sig syscall.Signal) {
	n.t.Helper()
	n.mu.Lock()
	cmd, done := n.daemon, n.done
	n.daemon = nil
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		n.t.Errorf("daemon did not exit on %v", sig)
	}
}

type result struct {
	code           int
	stdout, stderr string
	elapsed        time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
}

// run runs the CLI against this node's work dir.
func (n *node) run(args ...string) result {
	n.t.Helper()
	return n.runIn("", nil, args...)
}

// runIn runs the CLI in dir (the caller's cwd) with stdin.
func (n *node) runIn(dir string, stdin io.Reader, args ...string) result {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.bin, args...)
	cmd.Env = n.env()
	cmd.Dir = dir
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String(), elapsed: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		n.t.Fatalf("warren %v: %v", args, err)
	}
	return r
}

// must runs the CLI and fails the test unless it exits 0.
func (n *node) must(args ...string) string {
	n.t.Helper()
	r := n.run(args...)
	if r.code != 0 {
		n.t.Fatalf("warren %s: %v", strings.Join(args, " "), r)
	}
	return r.stdout
}

func (n *node) cleanup() {
	if n.t.Failed() {
		n.dumpLogs()
	}
	if n.daemonRunning() {
		// Stop every group first: they outlive the daemon on purpose.
		n.run("kill", "-f", "*")
		n.stop()
	} else if n.leftovers() != nil {
		// Groups re-parented away from a killed daemon: a fresh daemon
		// re-adopts them and kills them.
		n.startNoWait()
		testutil.Eventually(n.t, 20*time.Second, func() error {
			if r := n.run("id"); r.code != 0 {
				return errors.New(r.stderr)
			}
			return nil
		})
		n.run("kill", "-f", "*")
		n.stop()
	}
	testutil.Eventually(n.t, 20*time.Second, func() error {
		if pids := n.leftovers(); len(pids) > 0 {
			return fmt.Errorf("processes of work dir %s left behind: %s", n.workDir, describe(pids))
		}
		return nil
	})
}

// dumpLogs shows the daemon's output and every log of the work dir, to
// explain a failure.
func (n *node) dumpLogs() {
	n.mu.Lock()
	buf := n.stderr
	n.mu.Unlock()
	if buf != nil {
		n.t.Logf("daemon output:\n%s", tailString(buf.String(), 8000))
	}
	files, _ := filepath.Glob(filepath.Join(n.workDir, "logs", "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		n.t.Logf("%s:\n%s", filepath.Base(f), tailString(string(b), 4000))
	}
}

func tailString(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func (n *node) daemonRunning() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.daemon == nil {
		return false
	}
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// leftovers lists the live processes that belong to this node: any process
// whose environment names the work dir (the daemon, its groups, the jobs
// they run) or whose command line mentions it.
func (n *node) leftovers() []int {
	return processesMentioning(n.workDir)
}

func processesMentioning(s string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	self := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		if zombieOrGone(pid) {
			continue
		}
		env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if bytes.Contains(env, []byte("WARREN_WORKDIR="+s+"\x00")) || bytes.Contains(cmdline, []byte(s)) {
			out = append(out, pid)
		}
	}
	return out
}

func zombieOrGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] == 'Z'
}

func describe(pids []int) string {
	var parts []string
	for _, p := range pids {
		c, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
		parts = append(parts, fmt.Sprintf("%d(%s)", p, strings.ReplaceAll(strings.TrimRight(string(c), "\x00"), "\x00", " ")))
	}
	return strings.Join(parts, ", ")
}

// procState returns the state letter of pid (R, S, Z, ...) or "" if gone.
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return ""
	}
	return string(b[i+2])
}

// lines splits output into non-empty lines.
func lines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}
