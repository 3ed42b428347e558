package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warren-mesh/warren/gateway/backend"
	"github.com/warren-mesh/warren/gateway/config"
	"github.com/warren-mesh/warren/gateway/httpproxy"
	"github.com/warren-mesh/warren/gateway/metrics"
	"github.com/warren-mesh/warren/internal/testutil"
)

// backendBin is the test backend (testdata/backend), built once in TestMain.
var backendBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "warren-gw-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	backendBin = filepath.Join(dir, "backend")
	cmd := exec.Command("go", "build", "-o", backendBin, "./testdata/backend")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build test backend: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func port(t testing.TB) string { return strconv.Itoa(testutil.FreePort(t)) }

func mustConfig(t testing.TB, doc string) config.Config {
	t.Helper()
	c, err := config.Decode([]byte(doc))
	if err != nil {
		t.Fatalf("config: %v\n%s", err, doc)
	}
	return c
}

func jsonList(s ...string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// startEngine runs an engine and registers its shutdown and leak checks.
func startEngine(t testing.TB, cfg config.Config, opts Options) *Engine {
	t.Helper()
	e, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := e.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return e
}

func leakCheck(t *testing.T) {
	t.Helper()
	testutil.VerifyNoLeaks(t, httpproxy.FasthttpIgnores...)
}

var httpc = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}

func get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := httpc.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	// A zombie has exited; only a running process counts.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func gone(pids ...int) func() error {
	return func() error {
		for _, p := range pids {
			if alive(p) {
				return fmt.Errorf("process %d still running", p)
			}
		}
		return nil
	}
}

// pidsInLogs returns the pids the test backend printed at startup.
func pidsInLogs(lines []string) []int {
	var out []int
	for _, l := range lines {
		var pid int
		if _, err := fmt.Sscanf(l, "pid %d starting", &pid); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

func httpRoute(pub, name, internal string, extra string, args ...string) string {
	return fmt.Sprintf(`%q: {"name": %q, %s "backends": [{"name": "b", "cmd": %q, "args": %s, "internal_port": %q}]}`,
		pub, name, extra, backendBin, jsonList(append([]string{"-http", "127.0.0.1:" + internal}, args...)...), internal)
}

func TestConcurrentFirstRequestsOneSpawn(t *testing.T) {
	leakCheck(t)
	pub, in := port(t), port(t)
	e := startEngine(t, mustConfig(t, `{"routes": {`+httpRoute(pub, "cold", in, "", "-delay", "100ms")+`}}`), Options{})
	if st := e.Status().Routes[0].Backends[0].State; st != backend.Dormant {
		t.Fatalf("before the first request: %s", st)
	}
	var wg sync.WaitGroup
	pids := make(chan string, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, body := get(t, "http://127.0.0.1:"+pub+"/pid")
			if code != 200 {
				t.Errorf("status %d: %s", code, body)
			}
			pids <- body
		}()
	}
	wg.Wait()
	close(pids)
	seen := map[string]int{}
	for p := range pids {
		seen[p]++
	}
	if len(seen) != 1 {
		t.Fatalf("responses came from %d processes: %v", len(seen), seen)
	}
	st := e.Status().Routes[0].Backends[0]
	if st.Starts != 1 || st.State != backend.Ready || st.Requests != 50 {
		t.Fatalf("status %+v", st)
	}
	// The output reaches the log ring through a pipe: wait for it.
	testutil.Eventually(t, 10*time.Second, func() error {
		logs, err := e.Logs(pub + "/b")
		if err != nil {
			return err
		}
		if got := pidsInLogs(logs); len(got) != 1 || got[0] != st.PID {
			return fmt.Errorf("processes in logs %v, want [%d] (logs %q)", got, st.PID, logs)
		}
		return nil
	})
	pid := st.PID
	shutdown(t, e)
	testutil.Eventually(t, 5*time.Second, gone(pid))
}

func TestNeverListens504NoProcessLeft(t *testing.T) {
	leakCheck(t)
	pub, in := port(t), port(t)
	e := startEngine(t, mustConfig(t, `{"routes": {`+httpRoute(pub, "never", in, `"start_timeout": "300ms", "stop_grace": "200ms",`, "-mode", "never")+`}}`), Options{})
	code, body := get(t, "http://127.0.0.1:"+pub+"/")
	if code != http.StatusGatewayTimeout || !strings.Contains(body, "start_timeout") {
		t.Fatalf("got %d %q, want 504 naming start_timeout", code, body)
	}
	st := e.Status().Routes[0].Backends[0]
	if st.LastPID == 0 || st.PID != 0 || st.State != backend.Failed {
		t.Fatalf("status %+v", st)
	}
	testutil.Eventually(t, 5*time.Second, gone(st.LastPID))
	// During the backoff: 502 at once, nothing spawned.
	code, _ = get(t, "http://127.0.0.1:"+pub+"/")
	if code != http.StatusBadGateway {
		t.Fatalf("during backoff: %d, want 502", code)
	}
	if n := e.Status().Routes[0].Backends[0].Starts; n != 1 {
		t.Fatalf("%d starts, want 1", n)
	}
}

func TestExitDuringStart502WithBackoff(t *testing.T) {
	leakCheck(t)
	pub, in := port(t), port(t)
	e := startEngine(t, mustConfig(t, `{"routes": {`+httpRoute(pub, "exit", in, `"restart": {"backoff": "10s"},`, "-mode", "exit")+`}}`), Options{})
	start := time.Now()
	code, body := get(t, "http://127.0.0.1:"+pub+"/")
	if code != http.StatusBadGateway || !strings.Contains(body, "exited during start") {
		t.Fatalf("got %d %q, want 502", code, body)
	}
	for range 10 {
		if code, _ := get(t, "http://127.0.0.1:"+pub+"/"); code != http.StatusBadGateway {
			t.Fatalf("got %d", code)
		}
	}
	if time.Since(start) > 8*time.Second {
		t.Fatal("502s were not immediate")
	}
	if n := e.Status().Routes[0].Backends[0].Starts; n != 1 {
		t.Fatalf("%d starts for 11 requests, want 1 (backoff)", n)
	}
	if st := e.Status().Routes[0].Backends[0]; st.State != backend.Failed || st.Failures != 1 {
		t.Fatalf("status %+v", st)
	}
}

// A route bound to loopback shows the cause of a failed start in the 502
// body; one bound to every address (reachable from the network) does not.
func TestErrorCauseOnlyOnLoopbackRoutes(t *testing.T) {
	leakCheck(t)
	local, open, in := port(t), port(t), port(t)
	missing := filepath.Join(t.TempDir(), "no-such-program")
	route := func(pub, bind string) string {
		return fmt.Sprintf(`%q: {"bind": %q, "backends": [{"cmd": %q, "internal_port": %q}]}`, pub, bind, missing, in)
	}
	startEngine(t, mustConfig(t, `{"routes": {`+route(local, "127.0.0.1")+`, `+route(open, "0.0.0.0")+`}}`), Options{})
	code, body := get(t, "http://127.0.0.1:"+local+"/")
	if code != http.StatusBadGateway || !strings.Contains(body, missing) {
		t.Fatalf("loopback route: %d %q, want 502 naming %s", code, body, missing)
	}
	code, body = get(t, "http://127.0.0.1:"+open+"/")
	if code != http.StatusBadGateway || strings.Contains(body, "no-such-program") || !strings.Contains(body, "gateway's log") {
		t.Fatalf("0.0.0.0 route: %d %q, want 502 without the cause", code, body)
	}
}

func TestCrashMidRequestThenRecovery(t *testing.T) {
	leakCheck(t)
	pub, in := port(t), port(t)
	e := startEngine(t, mustConfig(t, `{"routes": {`+httpRoute(pub, "crash", in, `"restart": {"backoff": "20ms"},`)+`}}`), Options{})
	_, pid1 := get(t, "http://127.0.0.1:"+pub+"/pid")
	code, body := get(t, "http://127.0.0.1:"+pub+"/crash")
	if code != http.StatusBadGateway {
		t.Fatalf("crash: %d %q, want 502", code, body)
	}
	var pid2 string
	testutil.Eventually(t, 10*time.Second, func() error {
		code, body := get(t, "http://127.0.0.1:"+pub+"/pid")
		if code != 200 {
			return fmt.Errorf("status %d %q", code, body)
		}
		pid2 = body
		return nil
	})
	if pid1 == pid2 {
		t.Fatalf("same pid %s after crash", pid1)
	}
	_ = e
}

func TestWrapperScriptLeavesNoOrphans(t *testing.T) {
	leakCheck(t)
	pub, in := port(t), port(t)
	// sh stays the parent (no exec): the real server is a grandchild.
	script := fmt.Sprintf("%s -http 127.0.0.1:%s & wait", backendBin, in)
	doc := fmt.Sprintf(`{"routes": {%q: {"name": "wrapped", "stop_grace": "2s", "backends": [{"cmd": "sh", "args": ["-c", %q], "internal_port": %q}]}}}`, pub, script, in)
	e, err := New(mustConfig(t, doc), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	code, body := get(t, "http://127.0.0.1:"+pub+"/pid")
	if code != 200 {
		t.Fatalf("%d %q", code, body)
	}
	child, _ := strconv.Atoi(body)
	shPID := e.Status().Routes[0].Backends[0].PID
	if child == shPID || !alive(child) || !alive(shPID) {
		t.Fatalf("want sh %d with child %d", shPID, child)
	}
	shutdown(t, e)
	testutil.Eventually(t, 5*time.Second, gone(shPID, child))
}

func TestIdleTimeoutScaleToZero(t *testing.T) {
	leakCheck(t)
	pub, in := port(t), port(t)
	e := startEngine(t, mustConfig(t, `{"routes": {`+httpRoute(pub, "idle", in, `"idle_timeout": "300ms",`)+`}}`), Options{})
	_, p1 := get(t, "http://127.0.0.1:"+pub+"/pid")
	pid1, _ := strconv.Atoi(p1)
	testutil.Eventually(t, 10*time.Second, func() error {
		if st := e.Status().Routes[0].Backends[0].State; st != backend.Dormant {
			return fmt.Errorf("state %s", st)
		}
		return nil
	})
	testutil.Eventually(t, 5*time.Second, gone(pid1))
	_, p2 := get(t, "http://127.0.0.1:"+pub+"/pid")
	if p1 == p2 || p2 == "" {
		t.Fatalf("pids %s then %s", p1, p2)
	}
	if st := e.Status().Routes[0].Backends[0]; st.Starts != 2 {
		t.Fatalf("starts %d", st.Starts)
	}
}

// keepAlive is one raw HTTP/1.1 keep-alive connection.
type keepAlive struct {
	c  net.Conn
	br *bufio.Reader
}

func dialKeepAlive(t *testing.T, addr string) *keepAlive {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &keepAlive{c: c, br: bufio.NewReader(c)}
}

func (k *keepAlive) get(t *testing.T, path string) (int, string) {
	t.Helper()
	k.c.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(k.c, "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", path)
	resp, err := http.ReadResponse(k.br, nil)
	if err != nil {
		t.Fatalf("keep-alive GET %s: %v", path, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

func TestReloadKeepsUntouchedRoutes(t *testing.T) {
	leakCheck(t)
	pa, ia, pb, ib, pc, ic := port(t), port(t), port(t), port(t), port(t), port(t)
	doc := func(bname string, withC bool) string {
		routes := httpRoute(pa, "a", ia, "") + "," + httpRoute(pb, "b", ib, "", "-name", bname)
		if withC {
			routes += "," + httpRoute(pc, "c", ic, "")
		}
		return `{"routes": {` + routes + `}}`
	}
	e := startEngine(t, mustConfig(t, doc("one", false)), Options{})
	ka := dialKeepAlive(t, "127.0.0.1:"+pa)
	_, pidA := ka.get(t, "/pid")
	kb := dialKeepAlive(t, "127.0.0.1:"+pb)
	if _, body := kb.get(t, "/"); !strings.HasPrefix(body, "one ") {
		t.Fatalf("b: %q", body)
	}
	_, bodyB := get(t, "http://127.0.0.1:"+pb+"/")
	if !strings.HasPrefix(bodyB, "one ") {
		t.Fatalf("b: %q", bodyB)
	}
	// Identical: a no-op.
	if err := e.Reload(mustConfig(t, doc("one", false))); err != nil {
		t.Fatal(err)
	}
	// Invalid: rejected, nothing changes.
	bad := mustConfig(t, doc("one", false))
	r := bad.Routes[pa]
	r.LoadBalance = "random"
	bad.Routes[pa] = r
	if err := e.Reload(bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("invalid reload: %v", err)
	}
	// Change b's backend and add c.
	if err := e.Reload(mustConfig(t, doc("two", true))); err != nil {
		t.Fatal(err)
	}
	if code, pid := ka.get(t, "/pid"); code != 200 || pid != pidA {
		t.Fatalf("route a after reload: %d pid %s, want %s on the same connection", code, pid, pidA)
	}
	testutil.Eventually(t, 10*time.Second, func() error {
		code, body := get(t, "http://127.0.0.1:"+pb+"/")
		if code != 200 || !strings.HasPrefix(body, "two ") {
			return fmt.Errorf("b: %d %q", code, body)
		}
		return nil
	})
	if code, _ := get(t, "http://127.0.0.1:"+pc+"/"); code != 200 {
		t.Fatalf("new route c: %d", code)
	}
	// Route b kept its listener: the connection opened before the reload
	// now reaches the new backend.
	if code, body := kb.get(t, "/"); code != 200 || !strings.HasPrefix(body, "two ") {
		t.Fatalf("b's old connection after reload: %d %q", code, body)
	}
	// Remove c: its port is freed.
	if err := e.Reload(mustConfig(t, doc("two", false))); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, func() error {
		c, err := net.Dial("tcp", "127.0.0.1:"+pc)
		if err == nil {
			c.Close()
			return errors.New("removed route still accepts")
		}
		return nil
	})
	if code, pid := ka.get(t, "/pid"); code != 200 || pid != pidA {
		t.Fatalf("route a at the end: %d %s", code, pid)
	}
	if n := len(e.Status().Routes); n != 2 {
		t.Fatalf("%d routes", n)
	}
}

func TestReloadListenerFailureChangesNothing(t *testing.T) {
	leakCheck(t)
	pa, ia := port(t), port(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	busy := strconv.Itoa(taken.Addr().(*net.TCPAddr).Port)
	e := startEngine(t, mustConfig(t, `{"routes": {`+httpRoute(pa, "a", ia, "")+`}}`), Options{})
	err = e.Reload(mustConfig(t, `{"routes": {`+httpRoute(pa, "a", ia, "")+`,`+httpRoute(busy, "x", port(t), "")+`}}`))
	if !errors.Is(err, ErrListen) {
		t.Fatalf("reload onto a busy port: %v", err)
	}
	if n := len(e.Status().Routes); n != 1 {
		t.Fatalf("%d routes after failed reload", n)
	}
	if _, ok := e.Config().Routes[busy]; ok {
		t.Fatal("failed reload changed the config")
	}
}

func TestPortInUseFailsAtOnce(t *testing.T) {
	leakCheck(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	busy := strconv.Itoa(taken.Addr().(*net.TCPAddr).Port)
	free := port(t)
	e, err := New(mustConfig(t, `{"routes": {`+httpRoute(free, "a", port(t), "")+`,`+httpRoute(busy, "b", port(t), "")+`}}`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = e.Run(context.Background())
	if !errors.Is(err, ErrListen) || !strings.Contains(err.Error(), busy) {
		t.Fatalf("Run = %v, want ErrListen naming port %s", err, busy)
	}
	// The other route's listener was released.
	l, err := net.Listen("tcp", "127.0.0.1:"+free)
	if err != nil {
		t.Fatalf("port %s left open: %v", free, err)
	}
	l.Close()
}

// A backend's internal_port already held by a program the gateway did not
// start (here a plain HTTP server; in life one started by hand, or a
// backend a killed gateway left running) must not pass for the backend:
// the start fails with the reason (502), no request reaches that program,
// and once it is gone the backend starts and serves.
func TestInternalPortHeldByAnotherProgram(t *testing.T) {
	leakCheck(t)
	foreign, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var reached atomic.Int32
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		io.WriteString(w, "foreign")
	})}
	go srv.Serve(foreign)
	defer srv.Close()
	in := strconv.Itoa(foreign.Addr().(*net.TCPAddr).Port)
	pub := port(t)
	e := startEngine(t, mustConfig(t, `{"routes": {`+httpRoute(pub, "held", in, `"restart": {"backoff": "50ms", "max_backoff": "50ms"},`)+`}}`), Options{})
	code, body := get(t, "http://127.0.0.1:"+pub+"/")
	if code != http.StatusBadGateway || !strings.Contains(body, "another program holds internal_port") {
		t.Fatalf("with the port held: %d %q, want 502 naming the cause", code, body)
	}
	if n := reached.Load(); n != 0 {
		t.Fatalf("%d requests reached the program holding the port", n)
	}
	if st := e.Status().Routes[0].Backends[0]; st.PID != 0 {
		t.Fatalf("a backend process was started: %+v", st)
	}
	srv.Close()
	testutil.Eventually(t, 10*time.Second, func() error {
		code, body := get(t, "http://127.0.0.1:"+pub+"/")
		if code != 200 || body == "foreign" {
			return fmt.Errorf("after the program left: %d %q", code, body)
		}
		return nil
	})
}

func TestBalancingAcrossRealBackends(t *testing.T) {
	leakCheck(t)
	pub := port(t)
	var bs []string
	for i := range 3 {
		in := port(t)
		bs = append(bs, fmt.Sprintf(`{"name": "b%d", "cmd": %q, "args": %s, "internal_port": %q}`, i, backendBin, jsonList("-http", "127.0.0.1:"+in, "-name", fmt.Sprint("b", i)), in))
	}
	for _, policy := range []string{"round_robin", "least_conn", "ip_hash"} {
		t.Run(policy, func(t *testing.T) {
			doc := fmt.Sprintf(`{"routes": {%q: {"name": "lb", "load_balance": %q, "backends": [%s]}}}`, pub, policy, strings.Join(bs, ","))
			e := startEngine(t, mustConfig(t, doc), Options{})
			counts := map[string]int{}
			for range 30 {
				code, body := get(t, "http://127.0.0.1:"+pub+"/")
				if code != 200 {
					t.Fatalf("%d %q", code, body)
				}
				counts[strings.Fields(body)[0]]++
			}
			switch policy {
			case "round_robin":
				if counts["b0"] != 10 || counts["b1"] != 10 || counts["b2"] != 10 {
					t.Fatalf("round robin split %v", counts)
				}
			case "ip_hash":
				if len(counts) != 1 {
					t.Fatalf("one client reached %v", counts)
				}
			case "least_conn":
				if len(counts) < 2 {
					t.Fatalf("sequential requests all went to %v", counts)
				}
			}
			shutdown(t, e)
		})
	}
}

func TestTCPRouteColdStart(t *testing.T) {
	leakCheck(t)
	pub, in := port(t), port(t)
	doc := fmt.Sprintf(`{"routes": {%q: {"name": "echo", "protocol": "tcp", "backends": [{"cmd": %q, "args": %s, "internal_port": %q}]}}}`,
		pub, backendBin, jsonList("-tcp", "127.0.0.1:"+in), in)
	e := startEngine(t, mustConfig(t, doc), Options{})
	c, err := net.Dial("tcp", "127.0.0.1:"+pub)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(c, "hello through the gateway")
	c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "hello through the gateway" {
		t.Fatalf("echo %q %v", b, err)
	}
	st := e.Status().Routes[0]
	if st.Backends[0].State != backend.Ready || st.Requests != 1 {
		t.Fatalf("status %+v", st)
	}
}

func TestInternalHealthBackend(t *testing.T) {
	leakCheck(t)
	pub := port(t)
	doc := fmt.Sprintf(`{"service_name": "demo", "routes": {%q: {"name": "health", "backends": [{"cmd": "internal"}]}}}`, pub)
	e := startEngine(t, mustConfig(t, doc), Options{
		Version:     "1.2.3",
		HealthExtra: func() map[string]any { return map[string]any{"node": "abc", "status": "spoofed"} },
	})
	code, body := get(t, "http://127.0.0.1:"+pub+"/healthz")
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	if m["status"] != "ok" || m["service"] != "demo" || m["version"] != "1.2.3" || m["node"] != "abc" || m["id"] != e.ID() {
		t.Fatalf("payload %v", m)
	}
	code, body = get(t, "http://127.0.0.1:"+pub+"/readyz")
	if code != 200 || !strings.Contains(body, `"ready":true`) {
		t.Fatalf("readyz %d %s", code, body)
	}
}

func TestLoopBetweenGateways508(t *testing.T) {
	leakCheck(t)
	pa, pb := port(t), port(t)
	// Gateway A forwards to B, B forwards back to A: each config alone is valid.
	startEngine(t, mustConfig(t, fmt.Sprintf(`{"routes": {%q: {"name": "a", "backends": [{"internal_port": %q}]}}}`, pa, pb)), Options{ID: "gwA"})
	startEngine(t, mustConfig(t, fmt.Sprintf(`{"routes": {%q: {"name": "b", "backends": [{"internal_port": %q}]}}}`, pb, pa)), Options{ID: "gwB"})
	code, body := get(t, "http://127.0.0.1:"+pa+"/")
	if code != http.StatusLoopDetected || !strings.Contains(body, "loop") {
		t.Fatalf("got %d %q, want 508", code, body)
	}
}

func TestKillAndLogs(t *testing.T) {
	leakCheck(t)
	pub, in := port(t), port(t)
	e := startEngine(t, mustConfig(t, `{"routes": {`+httpRoute(pub, "k", in, "")+`}}`), Options{})
	if _, err := e.Logs("nope"); !errors.Is(err, ErrUnknownRef) {
		t.Fatalf("unknown ref: %v", err)
	}
	if err := e.Kill(pub + "/b"); !errors.Is(err, ErrNoProcess) {
		t.Fatalf("kill dormant: %v", err)
	}
	_, p1 := get(t, "http://127.0.0.1:"+pub+"/pid")
	pid1, _ := strconv.Atoi(p1)
	if err := e.Kill("b"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 15*time.Second, gone(pid1))
	testutil.Eventually(t, 10*time.Second, func() error {
		logs, err := e.Logs(pub)
		if err != nil || !strings.Contains(strings.Join(logs, "\n"), fmt.Sprintf("pid %d stopping", pid1)) {
			return fmt.Errorf("logs %q %v (SIGTERM should let it log its stop)", logs, err)
		}
		return nil
	})
	_, p2 := get(t, "http://127.0.0.1:"+pub+"/pid")
	if p2 == p1 {
		t.Fatal("same pid after kill")
	}
}

func TestWebSocketAndSSEThroughEngine(t *testing.T) {
	leakCheck(t)
	pub, in := port(t), port(t)
	startEngine(t, mustConfig(t, `{"routes": {`+httpRoute(pub, "ws", in, "")+`}}`), Options{})
	code, body := get(t, "http://127.0.0.1:"+pub+"/sse")
	if code != 200 || body != "data: 0\n\ndata: 1\n\ndata: 2\n\n" {
		t.Fatalf("sse %d %q", code, body)
	}
	c, err := net.Dial("tcp", "127.0.0.1:"+pub)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("handshake %v %v", resp, err)
	}
	io.WriteString(c, "ping")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo %q %v", buf, err)
	}
}

func TestStdioRoutes(t *testing.T) {
	leakCheck(t)
	ps, ph := port(t), port(t)
	script := `printf 'Status: 201 Created\r\nContent-Type: text/plain\r\n\r\n'; printf 'cgi %s %s' "$REQUEST_METHOD" "$QUERY_STRING"`
	doc := fmt.Sprintf(`{"routes": {
		%q: {"name": "cat", "protocol": "stdio", "stdio_mode": "stream", "backends": [{"cmd": "cat"}]},
		%q: {"name": "cgi", "protocol": "stdio", "stdio_mode": "http", "backends": [{"cmd": "sh", "args": ["-c", %q]}]}}}`, ps, ph, script)
	startEngine(t, mustConfig(t, doc), Options{})
	c, err := net.Dial("tcp", "127.0.0.1:"+ps)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(c, "through stdin and back")
	c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "through stdin and back" {
		t.Fatalf("stream: %q %v", b, err)
	}
	code, body := get(t, "http://127.0.0.1:"+ph+"/x?y=1")
	if code != 201 || body != "cgi GET y=1" {
		t.Fatalf("cgi: %d %q", code, body)
	}
}

// A stdio worker that cannot be started shows in the route's status (it
// read "ready", healthy, no failures, while every request got 502), and
// the error clears once a worker starts.
func TestStdioMissingWorkerShowsInStatus(t *testing.T) {
	leakCheck(t)
	ph := port(t)
	worker := filepath.Join(t.TempDir(), "worker")
	doc := fmt.Sprintf(`{"routes": {%q: {"protocol": "stdio", "stdio_mode": "http", "backends": [{"cmd": %q}]}}}`, ph, worker)
	e := startEngine(t, mustConfig(t, doc), Options{})
	if code, _ := get(t, "http://127.0.0.1:"+ph+"/"); code != http.StatusBadGateway {
		t.Fatalf("missing worker: %d, want 502", code)
	}
	st := e.Status().Routes[0].Backends[0]
	if st.Failures != 1 || !strings.Contains(st.LastError, worker) {
		t.Fatalf("status after a failed start: %+v", st)
	}
	if err := os.WriteFile(worker, []byte("#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nok'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, "http://127.0.0.1:"+ph+"/"); code != 200 || body != "ok" {
		t.Fatalf("installed worker: %d %q", code, body)
	}
	if st := e.Status().Routes[0].Backends[0]; st.LastError != "" || st.Failures != 1 || !st.Healthy {
		t.Fatalf("status after a worker started: %+v", st)
	}
}

func TestRestartAlwaysRunsWithoutTraffic(t *testing.T) {
	leakCheck(t)
	pub, in := port(t), port(t)
	e := startEngine(t, mustConfig(t, `{"routes": {`+httpRoute(pub, "always", in, `"restart": {"policy": "always", "backoff": "20ms"},`)+`}}`), Options{})
	var pid1 int
	testutil.Eventually(t, 10*time.Second, func() error {
		st := e.Status().Routes[0].Backends[0]
		if st.State != backend.Ready {
			return fmt.Errorf("state %s", st.State)
		}
		pid1 = st.PID
		return nil
	})
	if err := e.Kill(pub); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 15*time.Second, func() error {
		st := e.Status().Routes[0].Backends[0]
		if st.State != backend.Ready || st.PID == pid1 || st.PID == 0 {
			return fmt.Errorf("state %s pid %d", st.State, st.PID)
		}
		return nil
	})
	testutil.Eventually(t, 5*time.Second, gone(pid1))
}

func TestMetricsRecorded(t *testing.T) {
	leakCheck(t)
	pub, in := port(t), port(t)
	set := metrics.New(metrics.Options{})
	startEngine(t, mustConfig(t, `{"routes": {`+httpRoute(pub, "m", in, "")+`}}`), Options{Metrics: set})
	for range 3 {
		if code, _ := get(t, "http://127.0.0.1:"+pub+"/"); code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	srv := httptest.NewServer(set.Handler())
	defer srv.Close()
	_, body := get(t, srv.URL)
	for _, want := range []string{
		`warren_gateway_requests_total{backend="b",code="200",route="` + pub + `"} 3`,
		`warren_gateway_cold_starts_total{backend="b",route="` + pub + `"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s\n%s", want, body)
		}
	}
}

// TestReloadUnderTraffic reloads repeatedly (no-ops, a policy change on
// the tcp route, a backend change on another http route) while requests
// flow on every route; under -race it also proves the data path and
// Reload share nothing unguarded. Requests on the kept routes never fail.
func TestReloadUnderTraffic(t *testing.T) {
	leakCheck(t)
	pa, ia, pt, it, pb, ib := port(t), port(t), port(t), port(t), port(t), port(t)
	doc := func(i int) string {
		policy := []string{"round_robin", "least_conn"}[i%2]
		return fmt.Sprintf(`{"routes": {%s, %s, %q: {"name": "t", "protocol": "tcp", "load_balance": %q, "backends": [{"cmd": %q, "args": %s, "internal_port": %q}]}}}`,
			httpRoute(pa, "a", ia, ""), httpRoute(pb, "b", ib, "", "-name", fmt.Sprint("v", i/4)),
			pt, policy, backendBin, jsonList("-tcp", "127.0.0.1:"+it), it)
	}
	e := startEngine(t, mustConfig(t, doc(0)), Options{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var failures, okA, okT atomic.Int64
	// The clients stop before the engine shuts down, also when the test
	// fails half-way (they kept running into the next tests, which then
	// failed their leak checks).
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stop) }); wg.Wait() }
	t.Cleanup(halt)
	for range 2 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := httpc.Get("http://127.0.0.1:" + pa + "/")
				if err != nil {
					failures.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failures.Add(1)
				} else {
					okA.Add(1)
				}
			}
		}()
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.DialTimeout("tcp", "127.0.0.1:"+pt, 5*time.Second)
				if err != nil {
					failures.Add(1)
					continue
				}
				c.SetDeadline(time.Now().Add(10 * time.Second))
				io.WriteString(c, "x")
				c.(*net.TCPConn).CloseWrite()
				b, _ := io.ReadAll(c)
				c.Close()
				if string(b) != "x" {
					failures.Add(1)
				} else {
					okT.Add(1)
				}
			}
		}()
	}
	tPID := 0
	for i := 1; i <= 24; i++ {
		if err := e.Reload(mustConfig(t, doc(i))); err != nil {
			t.Fatal(err)
		}
		for _, r := range e.Status().Routes {
			if r.Port == pt && r.Backends[0].PID != 0 {
				if tPID != 0 && r.Backends[0].PID != tPID {
					t.Errorf("policy change restarted the tcp backend (%d -> %d)", tPID, r.Backends[0].PID)
				}
				tPID = r.Backends[0].PID
			}
		}
		testutil.Eventually(t, 10*time.Second, func() error {
			if okA.Load() < int64(i*2) || okT.Load() < int64(i*2) {
				// The routes' state, for a failure seen once under heavy
				// load (no http answer for 10 s, tcp fine).
				return fmt.Errorf("traffic after reload %d: %d http, %d tcp, %d failures; routes %+v",
					i, okA.Load(), okT.Load(), failures.Load(), e.Status().Routes)
			}
			return nil
		})
	}
	halt()
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d failed requests during reloads (%d http and %d tcp succeeded)", n, okA.Load(), okT.Load())
	}
}

func TestSlowClientCannotPinListener(t *testing.T) {
	leakCheck(t)
	pub, in := port(t), port(t)
	startEngine(t, mustConfig(t, `{"routes": {`+httpRoute(pub, "slow", in, `"read_header_timeout": "200ms", "conn_idle_timeout": "300ms",`)+`}}`), Options{})
	// Half a request line, then silence: the gateway hangs up.
	c, err := net.Dial("tcp", "127.0.0.1:"+pub)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("slow header: connection not closed by the gateway: %v", err)
	}
	// An idle keep-alive connection is closed too.
	ka := dialKeepAlive(t, "127.0.0.1:"+pub)
	if code, _ := ka.get(t, "/"); code != 200 {
		t.Fatalf("status %d", code)
	}
	ka.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(ka.br); err != nil {
		t.Fatalf("idle keep-alive: not closed: %v", err)
	}
	t.Logf("slow client cut after %v", time.Since(start).Round(time.Millisecond))
}

func TestTCPRouteSkipsDeadBackend(t *testing.T) {
	leakCheck(t)
	pub, in, dead := port(t), port(t), port(t)
	doc := fmt.Sprintf(`{"routes": {%q: {"name": "echo", "protocol": "tcp", "backends": [
		{"name": "dead", "internal_port": %q},
		{"name": "live", "cmd": %q, "args": %s, "internal_port": %q}]}}}`,
		pub, dead, backendBin, jsonList("-tcp", "127.0.0.1:"+in), in)
	e := startEngine(t, mustConfig(t, doc), Options{})
	for i := range 6 {
		c, err := net.Dial("tcp", "127.0.0.1:"+pub)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		msg := fmt.Sprint("conn ", i)
		io.WriteString(c, msg)
		c.(*net.TCPConn).CloseWrite()
		b, err := io.ReadAll(c)
		c.Close()
		if err != nil || string(b) != msg {
			t.Fatalf("connection %d: %q %v", i, b, err)
		}
	}
	for _, b := range e.Status().Routes[0].Backends {
		if b.Name == "dead" && b.Healthy {
			t.Fatalf("dead backend still healthy: %+v", b)
		}
	}
}
