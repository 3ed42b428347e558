package daemon

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/warren-mesh/warren/daemon/api"
	"github.com/warren-mesh/warren/internal/testutil"
	"github.com/warren-mesh/warren/service"
)

// infoFrom asks the daemon of workDir for its Info over the OS scope.
func infoFrom(ctx context.Context, workDir string) (api.Info, error) {
	var in api.Info
	c := service.NewClient(service.WithScope(service.ScopeOS), service.WithSocketDir(SocketDir(workDir)))
	conn, err := c.Discover(ctx, api.Publisher, api.Service)
	if err != nil {
		return in, err
	}
	defer conn.Close()
	err = conn.SendRecv(ctx, api.InfoReq{}, &in)
	return in, err
}

func TestServeInfo(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	dir := t.TempDir()
	ctx := context.Background()
	d := &Daemon{WorkDir: dir}
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	in, err := infoFrom(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if in.NodeID != d.NodeID() || in.WorkDir != dir || in.PID != os.Getpid() || in.GoVersion == "" || len(in.Features) == 0 {
		t.Fatalf("info %+v", in)
	}
	// The service is published under the node ID as provider.
	svcs, err := service.NewClient(service.WithScope(service.ScopeOS), service.WithSocketDir(SocketDir(dir))).List(ctx, "warren/*")
	if err != nil || len(svcs) != 1 || svcs[0].ProviderID != d.NodeID() || svcs[0].Scopes.String() != "--O-" {
		t.Fatalf("list %+v %v", svcs, err)
	}
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := infoFrom(ctx, dir); !errors.Is(err, service.ErrNotFound) {
		t.Fatalf("after close: %v", err)
	}
}

// Two daemons in one process cannot both answer {warren, daemon}: the
// handlers' backend slot is per process.
func TestSecondDaemonInProcessRefused(t *testing.T) {
	ctx := context.Background()
	d := &Daemon{WorkDir: t.TempDir()}
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	d2 := &Daemon{WorkDir: t.TempDir()}
	if err := d2.Start(ctx); err == nil || !strings.Contains(err.Error(), "another daemon") {
		d2.Close(ctx)
		t.Fatalf("second in-process daemon: %v", err)
	}
}

// A caller that is neither the daemon's user, root, nor in its control
// group is refused by the handler, even when the socket's permissions would
// let it connect (here opened up on purpose).
func TestServeRefusesOtherUID(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a client as another uid (uid 65534); the refusal is covered by TestAuthorizer")
	}
	if os.Getenv("WARREN_TEST_INFO_CLIENT") != "" {
		t.Skip("child mode")
	}
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "wd")
	ctx := context.Background()
	d := &Daemon{WorkDir: dir}
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	// Open every path up so that only the daemon's own check stands in the way.
	for p := tmp; p != "/" && p != os.TempDir(); p = filepath.Dir(p) {
		os.Chmod(p, 0o755)
	}
	filepath.WalkDir(SocketDir(dir), func(p string, e fs.DirEntry, err error) error {
		if err == nil {
			os.Chmod(p, 0o777)
		}
		return nil
	})
	os.Chmod(dir, 0o755)
	run := infoClientAs(t, tmp, dir)
	out, err := run(65534)
	if err != nil || !strings.Contains(out, "REFUSED") || !strings.Contains(out, "permission denied") {
		t.Fatalf("uid 65534 not refused: %v\n%s", err, out)
	}
	out, err = run(0)
	if err != nil || !strings.Contains(out, "NODE "+d.NodeID()) {
		t.Fatalf("root refused: %v\n%s", err, out)
	}
}

// infoClientAs returns a function that runs TestInfoClientChild against
// the daemon of work dir dir as uid (and gid) uid, from a copy of this
// test binary in tmp that the uid can execute, and returns its output.
func infoClientAs(t *testing.T, tmp, dir string) func(uid uint32) (string, error) {
	bin := filepath.Join(tmp, "client.test")
	copyFile(t, os.Args[0], bin)
	return func(uid uint32) (string, error) {
		cmd := exec.Command(bin, "-test.run=^TestInfoClientChild$")
		cmd.Env = append(os.Environ(), "WARREN_TEST_INFO_CLIENT="+dir)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
}

// TestInfoClientChild is the client half of TestServeRefusesOtherUID and
// TestControlGroupMemberMayControl.
func TestInfoClientChild(t *testing.T) {
	dir := os.Getenv("WARREN_TEST_INFO_CLIENT")
	if dir == "" {
		t.Skip("runs as a child of TestServeRefusesOtherUID")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	in, err := infoFrom(ctx, dir)
	switch {
	case errors.Is(err, api.ErrDenied):
		os.Stdout.WriteString("REFUSED " + err.Error() + "\n")
	case err != nil:
		t.Fatalf("uid %d: %v", os.Getuid(), err)
	default:
		os.Stdout.WriteString("NODE " + in.NodeID + "\n")
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// A member of the daemon's control group reaches and controls it: the
// work dir lets the group through (0710), the socket dir, the publisher
// dir, the lock file and the socket belong to the group. Someone else is
// kept out by the file system before the daemon's own check.
func TestControlGroupMemberMayControl(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run clients as other uids (65534, 65533)")
	}
	if os.Getenv("WARREN_TEST_INFO_CLIENT") != "" {
		t.Skip("child mode")
	}
	tmp := t.TempDir()
	// Only the daemon's own modes may stand in the way, not the test's temp dirs.
	for p := tmp; p != "/" && p != os.TempDir(); p = filepath.Dir(p) {
		os.Chmod(p, 0o711)
	}
	dir := filepath.Join(tmp, "wd")
	ctx := context.Background()
	d := &Daemon{WorkDir: dir, ControlGroup: "65534"}
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	for _, c := range []struct {
		path string
		mode os.FileMode
	}{
		{dir, 0o710 | os.ModeDir},
		{SocketDir(dir), 0o750 | os.ModeDir},
		{filepath.Join(SocketDir(dir), api.Publisher), 0o750 | os.ModeDir},
		{filepath.Join(SocketDir(dir), api.Publisher, api.Service+".lock"), 0o640},
		{filepath.Join(SocketDir(dir), api.Publisher, api.Service+".sock"), 0o660 | os.ModeSocket},
		{LogDir(dir), 0o700 | os.ModeDir},
	} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		gid := fi.Sys().(*syscall.Stat_t).Gid
		if fi.Mode()&(os.ModeType|os.ModePerm) != c.mode {
			t.Errorf("%s: mode %v, want %v", c.path, fi.Mode(), c.mode)
		}
		if c.mode&0o070 != 0 && gid != 65534 {
			t.Errorf("%s: gid %d, want the control group 65534", c.path, gid)
		}
	}
	run := infoClientAs(t, tmp, dir)
	if out, err := run(65534); err != nil || !strings.Contains(out, "NODE "+d.NodeID()) {
		t.Fatalf("control group member (gid 65534) not served: %v\n%s", err, out)
	}
	if out, err := run(65533); err == nil || strings.Contains(out, "NODE ") || !strings.Contains(out, "permission denied") {
		t.Fatalf("uid/gid 65533, outside the control group: want refused by the file system (permission denied), got %v\n%s", err, out)
	}
}
