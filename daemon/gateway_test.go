package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warren-mesh/warren/gateway/httpproxy"
	"github.com/warren-mesh/warren/internal/testutil"
)

// healthRoutes is a gateway config with one route per port, each served by
// the gateway's internal health backend, and the admin API on adminPort.
func healthRoutes(adminPort int, ports ...int) string {
	var rs []string
	for _, p := range ports {
		rs = append(rs, fmt.Sprintf(`"%d": {"protocol": "http", "backends": [{"cmd": "internal"}]}`, p))
	}
	return fmt.Sprintf(`{"dashboard_port": "%d", "routes": {%s}}`, adminPort, strings.Join(rs, ", "))
}

func getOK(t *testing.T, port int) string {
	t.Helper()
	code, body, err := testutil.HTTPGet(fmt.Sprintf("http://127.0.0.1:%d/healthz", port), 10*time.Second)
	if err != nil {
		t.Fatalf("route %d: %v", port, err)
	}
	if code != http.StatusOK {
		t.Fatalf("route %d: status %d %q", port, code, body)
	}
	return body
}

func refused(port int) bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 2*time.Second)
	if err == nil {
		c.Close()
		return false
	}
	return true
}

// TestDaemonGatewayOptIn: no gateway.json, no gateway (until the file
// appears and a reload starts it); with one, the daemon
// serves its routes, reloads an edit, refuses an invalid edit without a
// change, and closes every port on Close.
func TestDaemonGatewayOptIn(t *testing.T) {
	testutil.VerifyNoLeaks(t, httpproxy.FasthttpIgnores...)
	ctx := context.Background()

	t.Run("absent", func(t *testing.T) {
		d := &Daemon{WorkDir: t.TempDir()}
		if err := d.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer d.Close(ctx)
		if in := d.info().Gateway; in.Running || in.Config != GatewayConfigPath(d.WorkDir) || len(in.Routes) != 0 {
			t.Fatalf("gateway info without gateway.json = %+v", in)
		}
		if err := d.ReloadGateway(); err != nil {
			t.Fatalf("reload without a gateway: %v", err)
		}
		// The file appears: a bad one is refused and nothing runs; a good
		// one starts the gateway on the next reload (SIGHUP).
		path := GatewayConfigPath(d.WorkDir)
		if err := os.WriteFile(path, []byte(`{"routes": {"1": {}}}`), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := d.ReloadGateway(); err == nil || d.info().Gateway.Running {
			t.Fatalf("reload with a bad new gateway.json: %v, running %v; want an error, not running", err, d.info().Gateway.Running)
		}
		admin, p := testutil.FreePort(t), testutil.FreePort(t)
		if err := os.WriteFile(path, []byte(healthRoutes(admin, p)), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := d.ReloadGateway(); err != nil {
			t.Fatal(err)
		}
		getOK(t, p)
		if !d.info().Gateway.Running {
			t.Fatal("gateway started on reload but info says not running")
		}
		if err := d.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if !refused(p) || !refused(admin) {
			t.Fatal("a gateway started on reload outlived Close")
		}
	})

	dir := t.TempDir()
	admin, p1, p2 := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	path := GatewayConfigPath(dir)
	if err := os.WriteFile(path, []byte(healthRoutes(admin, p1)), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &Daemon{WorkDir: dir}
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			d.Close(ctx)
		}
	}()
	if body := getOK(t, p1); !strings.Contains(body, d.NodeID()) {
		t.Fatalf("health route does not report the node id %s: %s", d.NodeID(), body)
	}
	in := d.info().Gateway
	if !in.Running || len(in.Routes) != 1 || in.Routes[0].Port != fmt.Sprint(p1) {
		t.Fatalf("gateway info = %+v", in)
	}
	if _, err := os.Stat(filepath.Join(dir, "admin.token")); err != nil {
		t.Fatalf("admin token not created next to the config: %v", err)
	}

	if err := os.WriteFile(path, []byte(healthRoutes(admin, p1, p2)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.ReloadGateway(); err != nil {
		t.Fatal(err)
	}
	getOK(t, p2)
	if n := len(d.info().Gateway.Routes); n != 2 {
		t.Fatalf("%d routes after reload; want 2", n)
	}

	if err := os.WriteFile(path, []byte(`{"routes": {"1": {"protocol": "gopher"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	err := d.ReloadGateway()
	if err == nil || !strings.Contains(err.Error(), "protocol") || !strings.Contains(err.Error(), path) {
		t.Fatalf("invalid reload: %v; want a refusal naming %s and the field", err, path)
	}
	getOK(t, p1)
	getOK(t, p2)

	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	closed = true
	for _, p := range []int{p1, p2, admin} {
		if !refused(p) {
			t.Errorf("port %d still open after Close", p)
		}
	}
}

// TestDaemonGatewayBadConfigFailsStart: with Daemon.Gateway an existing
// file is used as it is (never overwritten by the default); a bad one fails
// Start naming the file and the field, and frees the work dir.
func TestDaemonGatewayBadConfigFailsStart(t *testing.T) {
	testutil.VerifyNoLeaks(t, httpproxy.FasthttpIgnores...)
	ctx := context.Background()
	dir := t.TempDir()
	path := GatewayConfigPath(dir)
	if err := os.WriteFile(path, []byte(`{"routes": {"8080": {"backends": []}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &Daemon{WorkDir: dir, Gateway: true}
	err := d.Start(ctx)
	if err == nil {
		d.Close(ctx)
		t.Fatal("start with a bad gateway config succeeded")
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "backends") {
		t.Fatalf("start error %q does not name %s and the field", err, path)
	}
	// The work dir is free again, and the file was left as it was.
	if b, err := os.ReadFile(path); err != nil || !strings.Contains(string(b), `"8080"`) {
		t.Fatalf("gateway.json changed by a failed start: %q %v", b, err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	d2 := &Daemon{WorkDir: dir}
	if err := d2.Start(ctx); err != nil {
		t.Fatalf("second start after a failed one: %v", err)
	}
	d2.Close(ctx)
}

// A valid config whose backend program is missing starts, and the log says
// which backend and why at start and again at a reload that keeps it.
func TestGatewayWarnsOfMissingProgram(t *testing.T) {
	testutil.VerifyNoLeaks(t, httpproxy.FasthttpIgnores...)
	ctx := context.Background()
	dir := t.TempDir()
	path := GatewayConfigPath(dir)
	admin, route, other := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	missing := filepath.Join(dir, "not-installed")
	doc := func(extra string) string {
		return fmt.Sprintf(`{"dashboard_port": "%d", "routes": {"%d": {"backends": [{"cmd": %q, "internal_port": "%d"}]}%s}}`,
			admin, route, missing, testutil.FreePort(t), extra)
	}
	if err := os.WriteFile(path, []byte(doc("")), 0o600); err != nil {
		t.Fatal(err)
	}
	var logBuf testutil.SafeBuffer
	g := &Gateway{ConfigPath: path, Log: slog.New(slog.NewTextHandler(&logBuf, nil))}
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer g.Close(ctx)
	want := fmt.Sprintf(`field="routes[\"%d\"].backends[0].cmd" problem="%s does not exist"`, route, missing)
	if n := strings.Count(logBuf.String(), want); n != 1 {
		t.Fatalf("start: %d warnings, want 1 with %s:\n%s", n, want, logBuf.String())
	}
	if err := os.WriteFile(path, []byte(doc(fmt.Sprintf(`, "%d": {"backends": [{"cmd": "internal"}]}`, other))), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := g.ReloadFromFile(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logBuf.String(), want); n != 2 {
		t.Fatalf("after reload: %d warnings, want 2:\n%s", n, logBuf.String())
	}
}
