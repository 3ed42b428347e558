package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
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

// backendSource is the gateway backend of these tests: it serves HTTP on
// loopback only and answers with its PID, so a test can tell which process
// served it and check that the process is gone after shutdown.
const backendSource = `package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback)")
	flag.Parse()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "backend pid=%d path=%s\n", os.Getpid(), r.URL.Path)
	})
	if err := http.ListenAndServe(*addr, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`

// buildBackend compiles backendSource (standard library only) into a temp dir.
func buildBackend(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte(backendSource), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "backend")
	cmd := exec.Command("go", "build", "-o", bin, src)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build backend: %v\n%s", err, out)
	}
	return bin
}

// getBody GETs url without keep-alive (no idle connection outlives the call).
func getBody(url string) (int, string, error) { return testutil.HTTPGet(url, 10*time.Second) }

func writeGatewayConfig(t *testing.T, path, doc string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
}

type gwInfo struct {
	NodeID  string `json:"node_id"`
	Gateway struct {
		Running bool   `json:"running"`
		Config  string `json:"config"`
		Admin   string `json:"admin"`
		Routes  []struct {
			Port      string `json:"port"`
			Name      string `json:"name"`
			Protocol  string `json:"protocol"`
			Listening bool   `json:"listening"`
		} `json:"routes"`
	} `json:"gateway"`
}

func (n *node) gatewayInfo(t *testing.T) gwInfo {
	t.Helper()
	var in gwInfo
	if err := json.Unmarshal([]byte(n.must("info", "-o", "json")), &in); err != nil {
		t.Fatal(err)
	}
	return in
}

func routePorts(in gwInfo) []string {
	var ps []string
	for _, r := range in.Gateway.Routes {
		if r.Listening {
			ps = append(ps, r.Port)
		}
	}
	return ps
}

// TestDaemonGateway: a daemon with WORKDIR/gateway.json runs the gateway; a
// request through a route cold-starts the backend and is answered; SIGHUP
// after an edit adds a route while the unchanged one keeps its process; an
// invalid edit is refused and changes nothing; stopping the daemon stops the
// backend (no orphan) and closes the route's port while a job keeps running.
func TestDaemonGateway(t *testing.T) {
	backend := buildBackend(t)
	n := newNode(t)
	if err := os.MkdirAll(n.workDir, 0o700); err != nil {
		t.Fatal(err)
	}
	route1, bport, route2, adminPort := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	cfgPath := filepath.Join(n.workDir, "gateway.json")
	route1JSON := fmt.Sprintf(`"%d": {"name": "app", "protocol": "http",
      "backends": [{"name": "app", "cmd": %q, "args": ["-addr", "127.0.0.1:%d"], "internal_port": "%d"}]}`,
		route1, backend, bport, bport)
	header := fmt.Sprintf(`"dashboard_host": "127.0.0.1", "dashboard_port": "%d"`, adminPort)
	writeGatewayConfig(t, cfgPath, fmt.Sprintf(`{%s, "routes": {%s}}`, header, route1JSON))

	n.requireGroups()
	n.start()
	sleeper := n.waitState(n.runJob("--name", "sleeper", "sleep", "300"), "running")

	// The first request starts the backend, through the gateway.
	url1 := fmt.Sprintf("http://127.0.0.1:%d/hello", route1)
	var body string
	testutil.Eventually(t, 20*time.Second, func() error {
		code, b, err := getBody(url1)
		if err != nil {
			return err
		}
		if code != http.StatusOK || !strings.Contains(b, "path=/hello") {
			return fmt.Errorf("status %d body %q", code, b)
		}
		body = b
		return nil
	})
	var backendPID int
	if _, err := fmt.Sscanf(body, "backend pid=%d", &backendPID); err != nil || backendPID <= 0 {
		t.Fatalf("no backend pid in %q: %v", body, err)
	}

	in := n.gatewayInfo(t)
	if !in.Gateway.Running || in.Gateway.Config != cfgPath || in.Gateway.Admin == "" {
		t.Fatalf("info gateway = %+v; want running, config %s, an admin URL", in.Gateway, cfgPath)
	}
	if got := routePorts(in); strings.Join(got, ",") != strconv.Itoa(route1) {
		t.Fatalf("info routes = %v; want [%d]", got, route1)
	}
	if out := n.must("info"); !strings.Contains(out, "running") || !strings.Contains(out, cfgPath) || !strings.Contains(out, fmt.Sprintf("127.0.0.1:%d", route1)) {
		t.Fatalf("info does not show the gateway:\n%s", out)
	}

	// SIGHUP after adding a route (the gateway's internal health backend).
	writeGatewayConfig(t, cfgPath, fmt.Sprintf(`{%s, "routes": {%s,
    "%d": {"name": "health", "protocol": "http", "backends": [{"name": "health", "cmd": "internal"}]}}}`,
		header, route1JSON, route2))
	if err := syscall.Kill(n.pid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	url2 := fmt.Sprintf("http://127.0.0.1:%d/healthz", route2)
	testutil.Eventually(t, 20*time.Second, func() error {
		code, b, err := getBody(url2)
		if err != nil {
			return err
		}
		if code != http.StatusOK || !strings.Contains(b, in.NodeID) {
			return fmt.Errorf("status %d body %q (want the node id %s)", code, b, in.NodeID)
		}
		return nil
	})
	// The unchanged route kept its backend process.
	if code, b, err := getBody(url1); err != nil || code != http.StatusOK || !strings.Contains(b, fmt.Sprintf("pid=%d ", backendPID)) {
		t.Fatalf("route %d after reload: %d %q %v; want the same backend pid %d", route1, code, b, err, backendPID)
	}
	want := []string{strconv.Itoa(route1), strconv.Itoa(route2)}
	if route2 < route1 {
		want[0], want[1] = want[1], want[0]
	}
	testutil.Eventually(t, 10*time.Second, func() error {
		if got := routePorts(n.gatewayInfo(t)); strings.Join(got, ",") != strings.Join(want, ",") {
			return fmt.Errorf("info routes = %v; want %v", got, want)
		}
		return nil
	})

	// An invalid edit is refused: logged, and both routes still serve.
	writeGatewayConfig(t, cfgPath, fmt.Sprintf(`{%s, "routes": {"%d": {"protocol": "gopher", "backends": [{"cmd": "internal"}]}}}`, header, route2))
	if err := syscall.Kill(n.pid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(n.workDir, "logs", "daemon.log")
	testutil.Eventually(t, 20*time.Second, func() error {
		b, _ := os.ReadFile(logPath)
		if !strings.Contains(string(b), "gateway reload refused") || !strings.Contains(string(b), "protocol") {
			return fmt.Errorf("no refusal naming the field in %s yet", logPath)
		}
		return nil
	})
	for _, u := range []string{url1, url2} {
		if code, _, err := getBody(u); err != nil || code != http.StatusOK {
			t.Fatalf("%s after a refused reload: %d %v", u, code, err)
		}
	}
	if got := routePorts(n.gatewayInfo(t)); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("info routes after a refused reload = %v; want %v", got, want)
	}

	// Stopping the daemon stops the gateway and its backend; the job keeps
	// running, as it does without a gateway.
	n.stop()
	if !alive(sleeper.PID) {
		t.Errorf("job %s (pid %d) ended with the daemon; jobs must outlive it", sleeper.ID, sleeper.PID)
	}
	testutil.Eventually(t, 20*time.Second, func() error {
		if !zombieOrGone(backendPID) {
			return fmt.Errorf("backend %d still runs after the daemon stopped", backendPID)
		}
		return nil
	})
	for _, p := range []int{route1, route2, adminPort} {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p), 2*time.Second); err == nil {
			c.Close()
			t.Errorf("port %d still accepts connections after the daemon stopped", p)
		}
	}
	// The cleanup starts a daemon to re-adopt and end the job group; the
	// invalid gateway.json would (rightly) keep it from starting.
	if err := os.Remove(cfgPath); err != nil {
		t.Fatal(err)
	}
}

// TestDaemonGatewayFatalStart: a bad gateway config or a route's port in use
// makes `warren daemon` exit 1 at once, naming the file and the field or
// route; the work dir is left free for the next daemon.
func TestDaemonGatewayFatalStart(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port
	cases := []struct {
		name string
		doc  string // %d: a free admin port
		want []string
	}{
		{"unknown field", `{"dashboard_port": "%d", "routes": {"%d": {"protocol": "http", "bogus_field": 1, "backends": [{"cmd": "internal"}]}}}`,
			[]string{"gateway.json", "bogus_field"}},
		{"port in use", `{"dashboard_port": "%d", "routes": {"%d": {"protocol": "http", "backends": [{"cmd": "internal"}]}}}`,
			[]string{"gateway.json", "route " + strconv.Itoa(busyPort), "address already in use"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t)
			if err := os.MkdirAll(n.workDir, 0o700); err != nil {
				t.Fatal(err)
			}
			route := testutil.FreePort(t)
			if tc.name == "port in use" {
				route = busyPort
			}
			writeGatewayConfig(t, filepath.Join(n.workDir, "gateway.json"), fmt.Sprintf(tc.doc, testutil.FreePort(t), route))
			r := n.run("daemon")
			if r.code != 1 {
				t.Fatalf("daemon with a bad gateway: %v; want exit 1", r)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr does not name %q:\n%s", w, r.stderr)
				}
			}
			// Nothing stayed behind: the lock is free, so no daemon runs.
			if r := n.run("id"); r.code == 0 {
				t.Fatalf("a daemon answers after the failed start: %v", r)
			}
		})
	}
}

// TestDaemonGatewayFlagWritesDefault: `warren daemon --gateway` without a
// gateway.json writes the documented default there (never overwriting it
// later), creates the admin token 0600, and serves the default health route.
// The default's ports (18080, admin 9800) are fixed: when something else on
// this machine holds one, the daemon refuses to start, as it must, and the
// test is skipped.
func TestDaemonGatewayFlagWritesDefault(t *testing.T) {
	n := newNode(t)
	cmd := exec.Command(n.bin, "daemon", "--gateway", "--log-format", "text")
	cmd.Env = n.env()
	out := &testutil.SafeBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	n.mu.Lock()
	n.daemon, n.done, n.stderr = cmd, done, out
	n.mu.Unlock()
	testutil.Eventually(t, 20*time.Second, func() error {
		select {
		case <-done:
			if strings.Contains(out.String(), "address already in use") {
				return nil
			}
			t.Fatalf("daemon --gateway exited: %s", out.String())
		default:
		}
		if r := n.run("id"); r.code != 0 {
			return fmt.Errorf("warren id: %s", r.stderr)
		}
		return nil
	})
	select {
	case <-done:
		t.Skipf("a default gateway port is taken on this machine: %s", out.String())
	default:
	}
	b, err := os.ReadFile(filepath.Join(n.workDir, "gateway.json"))
	if err != nil || !strings.Contains(string(b), `"18080"`) || !strings.Contains(string(b), `"//"`) {
		t.Fatalf("documented default not written: %v\n%s", err, b)
	}
	if st, err := os.Stat(filepath.Join(n.workDir, "admin.token")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("admin token: %v %v; want mode 0600", st, err)
	}
	in := n.gatewayInfo(t)
	if !in.Gateway.Running || strings.Join(routePorts(in), ",") != "18080" {
		t.Fatalf("info gateway = %+v; want the default route 18080", in.Gateway)
	}
	code, body, err := getBody("http://127.0.0.1:18080/healthz")
	if err != nil || code != http.StatusOK || !strings.Contains(body, in.NodeID) {
		t.Fatalf("default health route: %d %q %v", code, body, err)
	}
	n.stop()
}

// TestDaemonGatewayKill9NoOrphan: a daemon killed with SIGKILL cannot stop
// its gateway's backends itself; they must still not outlive it.
func TestDaemonGatewayKill9NoOrphan(t *testing.T) {
	backend := buildBackend(t)
	n := newNode(t)
	if err := os.MkdirAll(n.workDir, 0o700); err != nil {
		t.Fatal(err)
	}
	route, bport, adminPort := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	writeGatewayConfig(t, filepath.Join(n.workDir, "gateway.json"), fmt.Sprintf(`{"dashboard_port": "%d", "routes": {"%d": {"protocol": "http",
      "backends": [{"cmd": %q, "args": ["-addr", "127.0.0.1:%d"], "internal_port": "%d"}]}}}`, adminPort, route, backend, bport, bport))
	n.start()
	var body string
	testutil.Eventually(t, 20*time.Second, func() error {
		code, b, err := getBody(fmt.Sprintf("http://127.0.0.1:%d/", route))
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("%d %q %v", code, b, err)
		}
		body = b
		return nil
	})
	var pid int
	if _, err := fmt.Sscanf(body, "backend pid=%d", &pid); err != nil {
		t.Fatalf("no backend pid in %q: %v", body, err)
	}
	n.kill9()
	testutil.Eventually(t, 20*time.Second, func() error {
		if !zombieOrGone(pid) {
			return fmt.Errorf("backend %d outlived the killed daemon", pid)
		}
		return nil
	})
}
