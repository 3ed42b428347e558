package daemon

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/warren-mesh/warren/internal/testutil"
)

// The test binary doubles as a lock holder: with WARREN_TEST_HOLD_LOCK=dir it
// takes dir's lock, says so on stdout and waits to be killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv("WARREN_TEST_HOLD_LOCK"); dir != "" {
		if _, err := acquireLock(dir); err != nil {
			os.Stdout.WriteString("error: " + err.Error() + "\n")
			os.Exit(3)
		}
		os.Stdout.WriteString("locked\n")
		select {}
	}
	os.Exit(m.Run())
}

func TestResolveWorkDir(t *testing.T) {
	tests := []struct {
		name, flag, env, xdg, home, want string
	}{
		{"flag wins", "/a/b", "/env", "/xdg", "/home/u", "/a/b"},
		{"env", "", "/env/w", "/xdg", "/home/u", "/env/w"},
		{"xdg", "", "", "/xdg", "/home/u", "/xdg/warren"},
		{"relative xdg ignored", "", "", "rel", "/home/u", "/home/u/.local/state/warren"},
		{"home", "", "", "", "/home/u", "/home/u/.local/state/warren"},
		{"cleaned", "/a/../b/", "", "", "/h", "/b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvWorkDir, tt.env)
			t.Setenv("XDG_STATE_HOME", tt.xdg)
			t.Setenv("HOME", tt.home)
			got, err := ResolveWorkDir(tt.flag)
			if err != nil || got != tt.want {
				t.Fatalf("ResolveWorkDir(%q) = %q, %v; want %q", tt.flag, got, err, tt.want)
			}
		})
	}
	t.Run("relative flag is made absolute", func(t *testing.T) {
		got, err := ResolveWorkDir("rel/dir")
		wd, _ := os.Getwd()
		if err != nil || got != filepath.Join(wd, "rel/dir") {
			t.Fatalf("got %q, %v", got, err)
		}
	})
}

func TestNodeID(t *testing.T) {
	dir := t.TempDir()
	id, err := LoadOrCreateNodeID(dir)
	if err != nil || !ValidNodeID(id) {
		t.Fatalf("first id %q, %v", id, err)
	}
	again, err := LoadOrCreateNodeID(dir)
	if err != nil || again != id {
		t.Fatalf("id changed: %q then %q (%v)", id, again, err)
	}
	fi, err := os.Stat(filepath.Join(dir, nodeIDFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("node-id file: %v %v", fi, err)
	}
	other, _ := LoadOrCreateNodeID(t.TempDir())
	if other == id {
		t.Fatalf("two work dirs got the same id %q", id)
	}
	if err := os.WriteFile(filepath.Join(dir, nodeIDFile), []byte("XYZ\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateNodeID(dir); err == nil || !strings.Contains(err.Error(), "not 12 lowercase hex") {
		t.Fatalf("corrupt id accepted: %v", err)
	}
	for s, ok := range map[string]bool{"0123456789ab": true, "0123456789AB": false, "0123456789a": false, "0123456789abc": false, "g123456789ab": false} {
		if ValidNodeID(s) != ok {
			t.Errorf("ValidNodeID(%q) != %v", s, ok)
		}
	}
}

func TestLockExcludesSecondHolder(t *testing.T) {
	dir := t.TempDir()
	l1, err := acquireLock(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = acquireLock(dir)
	var are *AlreadyRunningError
	if !errors.Is(err, ErrAlreadyRunning) || !errors.As(err, &are) || are.PID != os.Getpid() {
		t.Fatalf("second lock: %v", err)
	}
	if !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("error does not name the pid: %v", err)
	}
	if pid, held, err := ReadLockPID(dir); err != nil || !held || pid != os.Getpid() {
		t.Fatalf("ReadLockPID = %d %v %v", pid, held, err)
	}
	if err := l1.release(); err != nil {
		t.Fatal(err)
	}
	if _, held, _ := ReadLockPID(dir); held {
		t.Fatal("lock still held after release")
	}
	l2, err := acquireLock(dir)
	if err != nil {
		t.Fatalf("relock after release: %v", err)
	}
	l2.release()
}

// A daemon killed with SIGKILL leaves its lock file behind; it must not block
// the next start.
func TestStaleLockAfterSIGKILL(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "WARREN_TEST_HOLD_LOCK="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "locked\n" {
		t.Fatalf("holder said %q", line)
	}
	_, err = acquireLock(dir)
	var are *AlreadyRunningError
	if !errors.As(err, &are) || are.PID != cmd.Process.Pid {
		t.Fatalf("lock held by child %d: got %v", cmd.Process.Pid, err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	l, err := acquireLock(dir)
	if err != nil {
		t.Fatalf("stale lock blocked: %v", err)
	}
	l.release()
}

func TestSDNotify(t *testing.T) {
	for _, abstract := range []bool{false, true} {
		t.Run("abstract="+strconv.FormatBool(abstract), func(t *testing.T) {
			name := filepath.Join(t.TempDir(), "notify")
			addr := name
			if abstract {
				name = "\x00warren-test-" + strconv.Itoa(os.Getpid())
				addr = "@" + name[1:]
			}
			pc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			if err := sdNotify(addr, "READY=1"); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 256)
			pc.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, _, err := pc.ReadFrom(buf)
			if err != nil || string(buf[:n]) != "READY=1" {
				t.Fatalf("got %q, %v", buf[:n], err)
			}
		})
	}
	if err := sdNotify("", "READY=1"); err != nil {
		t.Fatalf("no socket must be a no-op: %v", err)
	}
	if err := sdNotify("relative", "READY=1"); err == nil {
		t.Fatal("relative socket accepted")
	}
}

func TestDaemonStartClose(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	dir := filepath.Join(t.TempDir(), "wd")
	notify := filepath.Join(t.TempDir(), "notify")
	pc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()

	ctx := context.Background()
	d := &Daemon{WorkDir: dir, NotifySocket: notify}
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256)
	pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "READY=1\n") {
		t.Fatalf("notification %q, %v", buf[:n], err)
	}
	if !ValidNodeID(d.NodeID()) {
		t.Fatalf("node id %q", d.NodeID())
	}
	for p, mode := range map[string]os.FileMode{dir: 0o700, SocketDir(dir): 0o700, LogDir(dir): 0o700} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != mode {
			t.Fatalf("%s: %v %v", p, fi, err)
		}
	}
	second := &Daemon{WorkDir: dir}
	if err := second.Start(ctx); !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("second daemon: %v", err)
	}
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(DaemonLogPath(dir))
	if err != nil || !strings.Contains(string(b), "daemon started") {
		t.Fatalf("daemon log %q, %v", b, err)
	}
	d2 := &Daemon{WorkDir: dir}
	if err := d2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if d2.NodeID() != d.NodeID() {
		t.Fatalf("node id changed across restarts: %s -> %s", d.NodeID(), d2.NodeID())
	}
	if err := d2.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// The daemon is a child subreaper: an orphaned grandchild is re-parented to
// it and reaped when it exits, instead of staying a zombie.
func TestDaemonReapsOrphans(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	ctx := context.Background()
	d := &Daemon{WorkDir: t.TempDir()}
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	out, err := exec.Command("sh", "-c", "sleep 0.3 & echo $!").Output()
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, func() error {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return nil // reaped
		}
		return fmt.Errorf("orphan %d still there: %s", pid, b)
	})
}
