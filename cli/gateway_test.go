package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/warren-mesh/warren/internal/testutil"
	"github.com/warren-mesh/warren/proc"
)

func TestGatewayValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	os.WriteFile(good, []byte(`{"dashboard_host":"127.0.0.1","dashboard_port":"9090","trusted_origins":null,
	  "routes":{"8080":{"name":"web","protocol":"http","load_balance":"least_conn","backends":[{"name":"a","cmd":"./app","internal_port":"9001"}]},
	            "8082":{"name":"w","protocol":"stdio","stdio_mode":"http","backends":[{"cmd":"python3","args":["w.py"]}]},
	            "8083":{"name":"h","protocol":"tcp","handoff":true,"backends":[{"cmd":"./server"}]}}}`), 0o600)
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"routes":{"8080":{"backends":[{"cmd":"","internal_port":9001}]}}}`), 0o600)
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		out  string
		err  string
	}{
		{"valid", []string{"gateway", "validate", good}, 0, "valid, 3 route(s)", ""},
		{"valid lists routes", []string{"gateway", "validate", good}, 0, "127.0.0.1:8082  stdio/http", ""},
		{"valid shows handoff", []string{"gateway", "validate", good}, 0, "127.0.0.1:8083  tcp/handoff", ""},
		{"invalid names the field", []string{"gateway", "validate", bad}, 1, "", `routes["8080"].backends[0].internal_port: want a string, got a number`},
		{"missing file", []string{"gateway", "validate", filepath.Join(dir, "nope.json")}, 1, "", "no such file"},
		{"no argument", []string{"gateway", "validate"}, 2, "", "accepts 1 arg"},
		{"help has examples", []string{"gateway", "validate", "--help"}, 0, "warren gateway validate", ""},
		{"effective fills defaults", []string{"gateway", "validate", "--effective", good}, 0, `"start_timeout": "30s"`, ""},
		// Valid, with a warning: ./app is taken from the current directory.
		{"warns of a missing program", []string{"gateway", "validate", good}, 0, "valid", `warning: routes["8080"].backends[0].cmd: ` + filepath.Join(wd, "app") + " does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.out) || !strings.Contains(errOut, tt.err) {
				t.Fatalf("code %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)", code, tt.code, out, tt.out, errOut, tt.err)
			}
		})
	}
	// Standard input.
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), []string{"gateway", "validate", "-"}, strings.NewReader(`{"routes":{"1":{"backends":[]}}}`), &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), `routes["1"].backends: a route needs at least one backend`) {
		t.Fatalf("stdin: %d %q", code, stderr.String())
	}
}

func TestGatewayHelp(t *testing.T) {
	for _, args := range [][]string{{"gateway", "--help"}, {"gateway", "launch", "--help"}} {
		code, out, _ := run(t, args...)
		if code != 0 || !strings.Contains(out, "Examples:") {
			t.Errorf("%v: code %d, no examples in %q", args, code, out)
		}
	}
	if code, _, errOut := run(t, "gateway", "launch", "http://launch"); code != 2 || !strings.Contains(errOut, "scheme") {
		t.Errorf("bad launch URL: %d %q", code, errOut)
	}
}

// gatewayProc runs `warren gateway` from the built binary.
type gatewayProc struct {
	cmd    *exec.Cmd
	out    *testutil.SafeBuffer
	waited chan error
}

func startGateway(t *testing.T, env []string, args ...string) *gatewayProc {
	t.Helper()
	bin := testutil.WarrenBinary(t)
	g := &gatewayProc{out: &testutil.SafeBuffer{}, waited: make(chan error, 1)}
	g.cmd = exec.Command(bin, append([]string{"--log-format", "text", "gateway"}, args...)...)
	g.cmd.Env = append(os.Environ(), env...)
	g.cmd.Stdout, g.cmd.Stderr = g.out, g.out
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { g.waited <- g.cmd.Wait() }()
	t.Cleanup(func() {
		if g.cmd.ProcessState == nil {
			g.cmd.Process.Signal(syscall.SIGKILL)
			<-g.waited
		}
	})
	return g
}

// wait returns the exit code, failing the test if the process does not end.
func (g *gatewayProc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-g.waited:
		return g.cmd.ProcessState.ExitCode()
	case <-time.After(30 * time.Second):
		t.Fatalf("gateway did not exit; output:\n%s", g.out)
		return -1
	}
}

func httpGet(url string, header ...string) (int, string, error) {
	return testutil.HTTPGet(url, 5*time.Second, header...)
}

func TestGatewayFatalStartErrors(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"routes":{"8080":{"protocol":"udp","backends":[{"cmd":"internal"}]}}}`), 0o600)
	g := startGateway(t, nil, "--config", bad)
	if code := g.wait(t); code != 1 || !strings.Contains(g.out.String(), `routes["8080"].protocol: unknown protocol "udp"`) {
		t.Fatalf("bad config: exit %d\n%s", code, g.out)
	}

	// A route port already taken.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, port, _ := net.SplitHostPort(busy.Addr().String())
	cfg := filepath.Join(dir, "busy.json")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`{"dashboard_port":"%d","routes":{"%s":{"backends":[{"cmd":"internal"}]}}}`, testutil.FreePort(t), port)), 0o600)
	g = startGateway(t, nil, "--config", cfg)
	if code := g.wait(t); code != 1 || !strings.Contains(g.out.String(), "address already in use") || !strings.Contains(g.out.String(), port) {
		t.Fatalf("port in use: exit %d\n%s", code, g.out)
	}
	// Said once each: the message used to read "gateway: PATH: gateway:
	// route N (...): listen ADDR: gateway: cannot listen: listen tcp ADDR: ...".
	want := fmt.Sprintf("warren: gateway: route %s (route-%s): cannot listen: listen tcp 127.0.0.1:%s: bind: address already in use (config %s)", port, port, port, cfg)
	if !strings.Contains(g.out.String(), want) {
		t.Fatalf("port in use: %s\nwant the line %q", g.out, want)
	}

	// The admin port taken: no route may stay open behind a failed start.
	free := testutil.FreePort(t)
	os.WriteFile(cfg, []byte(fmt.Sprintf(`{"dashboard_port":"%s","routes":{"%d":{"backends":[{"cmd":"internal"}]}}}`, port, free)), 0o600)
	g = startGateway(t, nil, "--config", cfg)
	if code := g.wait(t); code != 1 || !strings.Contains(g.out.String(), "admin API") || !strings.Contains(g.out.String(), "address already in use") {
		t.Fatalf("admin port in use: exit %d\n%s", code, g.out)
	}
	if n := strings.Count(g.out.String(), "listen"); n != 2 { // "listen tcp ADDR", "admin.listen"
		t.Fatalf("admin port in use: %q says listen %d times", g.out, n)
	}
	if _, _, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/healthz", free)); err == nil {
		t.Fatal("a route still answers after a failed start")
	}
}

func TestGatewayRunReloadStop(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	dir := t.TempDir()
	cfgDir := filepath.Join(dir, "warren")
	admin, routeA, routeB := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	writeCfg := func(routes ...int) {
		var parts []string
		for _, p := range routes {
			parts = append(parts, fmt.Sprintf(`"%d":{"name":"r%d","backends":[{"cmd":"internal"}]}`, p, p))
		}
		doc := fmt.Sprintf(`{"dashboard_port":"%d","routes":{%s}}`, admin, strings.Join(parts, ","))
		if err := os.WriteFile(filepath.Join(cfgDir, "gateway.json"), []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(cfgDir, 0o700)
	writeCfg(routeA)
	// No --config: the XDG default path is used.
	g := startGateway(t, []string{"XDG_CONFIG_HOME=" + dir})
	url := func(p int, path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", p, path) }
	testutil.Eventually(t, 15*time.Second, func() error {
		code, _, err := httpGet(url(routeA, "/healthz"))
		if err != nil || code != 200 {
			return fmt.Errorf("route: %d %v\n%s", code, err, g.out)
		}
		return nil
	})
	tokPath := filepath.Join(cfgDir, "admin.token")
	fi, err := os.Stat(tokPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi, err)
	}
	tok, _ := os.ReadFile(tokPath)
	if code, _, _ := httpGet(url(admin, "/status")); code != 401 {
		t.Fatalf("status without token: %d", code)
	}
	if code, body, _ := httpGet(url(admin, "/status"), "Authorization", "Bearer "+strings.TrimSpace(string(tok))); code != 200 || !strings.Contains(body, fmt.Sprint(routeA)) {
		t.Fatalf("status: %d %s", code, body)
	}

	// SIGHUP after adding a route: it serves, the old one still does.
	writeCfg(routeA, routeB)
	g.cmd.Process.Signal(syscall.SIGHUP)
	testutil.Eventually(t, 15*time.Second, func() error {
		if code, _, err := httpGet(url(routeB, "/healthz")); err != nil || code != 200 {
			return fmt.Errorf("new route: %d %v", code, err)
		}
		return nil
	})
	// SIGHUP with a broken file: refused, everything keeps serving.
	os.WriteFile(filepath.Join(cfgDir, "gateway.json"), []byte(`{"routes":{`), 0o600)
	g.cmd.Process.Signal(syscall.SIGHUP)
	testutil.Eventually(t, 15*time.Second, func() error {
		if !strings.Contains(g.out.String(), "reload refused") {
			return fmt.Errorf("no refusal logged yet")
		}
		return nil
	})
	for _, p := range []int{routeA, routeB} {
		if code, _, err := httpGet(url(p, "/healthz")); err != nil || code != 200 {
			t.Fatalf("route %d after a refused reload: %d %v", p, code, err)
		}
	}
	// The client commands, through the admin API and its token.
	cfgPath := filepath.Join(cfgDir, "gateway.json")
	writeCfg(routeA, routeB)
	code, out, errOut := run(t, "gateway", "status", "--config", cfgPath)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("%d", routeB)) || !strings.Contains(out, "=ready") {
		t.Fatalf("gateway status: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := run(t, "gateway", "logs", "--config", cfgPath, "1/nope"); code != 1 || errOut == "" {
		t.Fatalf("gateway logs of an unknown ref: %d %q", code, errOut)
	}
	writeCfg(routeA)
	code, out, errOut = run(t, "gateway", "reload", "--config", cfgPath)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("removed [%d]", routeB)) {
		t.Fatalf("gateway reload: %d %q %q", code, out, errOut)
	}
	testutil.Eventually(t, 15*time.Second, func() error {
		if _, _, err := httpGet(url(routeB, "/healthz")); err == nil {
			return fmt.Errorf("removed route %d still served", routeB)
		}
		return nil
	})
	if code, out, _ := run(t, "gateway", "reload", "--config", cfgPath); code != 0 || !strings.Contains(out, "unchanged") {
		t.Fatalf("no-op reload: %d %q", code, out)
	}
	// The admin address edited in the file: the API stays where it was
	// until a restart, and the client commands still find it there (they
	// knocked on the new address and failed).
	running := filepath.Join(cfgDir, ".gateway.json.running")
	if _, err := os.Stat(running); err != nil {
		t.Fatalf("no record of the running gateway: %v", err)
	}
	oldAdmin := admin
	admin = testutil.FreePort(t)
	writeCfg(routeA, routeB)
	code, out, errOut = run(t, "gateway", "reload", "--config", cfgPath)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("added [%d]", routeB)) {
		t.Fatalf("reload after editing the admin port: %d %q %q", code, out, errOut)
	}
	if code, out, errOut := run(t, "gateway", "status", "--config", cfgPath); code != 0 || !strings.Contains(out, fmt.Sprint(routeB)) {
		t.Fatalf("status after editing the admin port: %d %q %q", code, out, errOut)
	}
	if _, _, err := httpGet(url(oldAdmin, "/healthz")); err != nil {
		t.Fatalf("the admin API left its address: %v", err)
	}

	g.cmd.Process.Signal(syscall.SIGTERM)
	if code := g.wait(t); code != 0 {
		t.Fatalf("exit %d after SIGTERM\n%s", code, g.out)
	}
	if _, err := os.Stat(running); !os.IsNotExist(err) {
		t.Fatalf("record of a stopped gateway left: %v", err)
	}
	if _, _, err := httpGet(url(routeA, "/healthz")); err == nil {
		t.Fatal("route still served after exit")
	}
}

func TestGatewayWritesDefault(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	// The default listens on fixed ports (9800, 18080); skip when taken.
	for _, p := range []string{"9800", "18080"} {
		l, err := net.Listen("tcp", "127.0.0.1:"+p)
		if err != nil {
			t.Skipf("port %s busy: %v", p, err)
		}
		l.Close()
	}
	path := filepath.Join(t.TempDir(), "new", "gateway.json")
	g := startGateway(t, nil, "--config", path)
	testutil.Eventually(t, 15*time.Second, func() error {
		if code, _, err := httpGet("http://127.0.0.1:18080/healthz"); err != nil || code != 200 {
			return fmt.Errorf("default route: %d %v", code, err)
		}
		return nil
	})
	data, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(data), `"//"`) {
		t.Fatalf("default config not written with its comments: %v", err)
	}
	code, _, errOut := run(t, "gateway", "validate", path)
	if code != 0 {
		t.Fatalf("the written default does not validate: %s", errOut)
	}
	g.cmd.Process.Signal(syscall.SIGINT)
	if code := g.wait(t); code != 0 {
		t.Fatalf("exit %d\n%s", code, g.out)
	}
}

func TestGatewayLaunch(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	bin := testutil.WarrenBinary(t)
	dir := filepath.Join(t.TempDir(), "warren")
	os.MkdirAll(dir, 0o700)
	admin, route := testutil.FreePort(t), testutil.FreePort(t)
	def := filepath.Join(dir, "gateway.json")
	os.WriteFile(def, []byte(`{"routes":{"1":{"backends":[{"cmd":"internal"}]}}}`), 0o600) // never started here
	os.WriteFile(filepath.Join(dir, "work.json"), []byte(fmt.Sprintf(`{"dashboard_port":"%d","routes":{"%d":{"backends":[{"cmd":"internal"}]}}}`, admin, route)), 0o600)
	outside := filepath.Join(t.TempDir(), "evil.json")
	os.WriteFile(outside, []byte(`{}`), 0o600)

	launch := func(u string) (int, string) {
		cmd := exec.Command(bin, "gateway", "launch", "--config", def, u)
		out, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(out)
	}
	if code, out := launch("warren://launch?conf=" + outside); code != 1 || !strings.Contains(out, "outside the config directory") {
		t.Fatalf("conf outside: %d %s", code, out)
	}
	rel, _ := filepath.Rel(dir, outside)
	if code, out := launch("warren://launch?conf=" + rel); code != 1 || !strings.Contains(out, "outside") {
		t.Fatalf("conf via ..: %d %s", code, out)
	}
	if code, out := launch(fmt.Sprintf("warren://launch?conf=work.json&port=%d", route+1)); code != 1 || !strings.Contains(out, "port not served") {
		t.Fatalf("bad port: %d %s", code, out)
	}
	u := fmt.Sprintf("warren://launch?conf=work.json&port=%d", route)
	code, out := launch(u)
	m := regexp.MustCompile(`gateway started \(pid (\d+)`).FindStringSubmatch(out)
	if code != 0 || m == nil || !strings.Contains(out, fmt.Sprintf("http://127.0.0.1:%d/", route)) {
		t.Fatalf("launch: %d %s", code, out)
	}
	pid, _ := strconv.Atoi(m[1])
	t.Cleanup(func() {
		syscall.Kill(pid, syscall.SIGTERM)
		testutil.Eventually(t, 20*time.Second, func() error {
			if proc.Alive(pid) {
				return fmt.Errorf("launched gateway %d still alive", pid)
			}
			return nil
		})
	})
	if c, _, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/healthz", route)); err != nil || c != 200 {
		t.Fatalf("launched gateway does not serve: %d %v", c, err)
	}
	if code, out := launch(u); code != 0 || !strings.Contains(out, "already running") {
		t.Fatalf("second launch: %d %s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "gateway.log")); err != nil {
		t.Fatalf("no gateway.log: %v", err)
	}
}

// TestGatewayClientErrors: the client commands' mistakes that need no
// running gateway give a usage exit code or a message that says what to do.
func TestGatewayClientErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.json")
	tests := []struct {
		name string
		args []string
		code int
		err  string
	}{
		// The format is a usage error, found before anything is read.
		{"bad output format", []string{"gateway", "status", "-o", "yaml", "--config", missing}, 2, `unknown output format "yaml"`},
		{"status without config", []string{"gateway", "status", "--config", missing}, 1, "gateway status: no gateway config at " + missing},
		{"kill without config", []string{"gateway", "kill", "--config", missing, "8080"}, 1, "gateway kill: no gateway config at"},
		{"reload without config", []string{"gateway", "reload", "--config", missing}, 1, "start one with 'warren gateway'"},
		{"logs needs a ref", []string{"gateway", "logs"}, 2, "accepts 1 arg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := run(t, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.err) {
				t.Fatalf("code %d (want %d), stderr %q (want %q)", code, tt.code, errOut, tt.err)
			}
		})
	}
}

func TestPrintGatewayStatusMarksHandoff(t *testing.T) {
	var st map[string]any
	if err := json.Unmarshal([]byte(`{"routes": [
		{"port": "2222", "name": "h", "protocol": "tcp", "listen": "127.0.0.1:2222", "handoff": true, "backends": [{"name": "b", "state": "dormant"}]},
		{"port": "2223", "name": "p", "protocol": "tcp", "listen": "127.0.0.1:2223", "backends": [{"name": "c", "state": "ready"}]}]}`), &st); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := printGatewayStatus(&b, st); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, "tcp/handoff") || strings.Count(out, "handoff") != 1 || !strings.Contains(out, "b=dormant") {
		t.Fatalf("status table:\n%s", out)
	}
}

// TestGatewayValidateColumnsAlign: the route table of `gateway validate`
// keeps its columns in line whatever the width of an address or a name
// (a 5-digit port and a long name shifted their line's columns).
func TestGatewayValidateColumnsAlign(t *testing.T) {
	f := filepath.Join(t.TempDir(), "gw.json")
	os.WriteFile(f, []byte(`{"routes":{
	  "2222":{"name":"ssh","protocol":"tcp","backends":[{"cmd":"","internal_port":"22"}]},
	  "18080":{"name":"health","backends":[{"cmd":"internal"}]},
	  "8090":{"name":"a route name longer than twenty characters","protocol":"stdio","backends":[{"cmd":"cat"}]}}}`), 0o600)
	code, out, errOut := run(t, "gateway", "validate", f)
	if code != 0 {
		t.Fatalf("validate: %d %q", code, errOut)
	}
	rows := strings.Split(strings.TrimRight(out, "\n"), "\n")[1:]
	if len(rows) != 3 {
		t.Fatalf("want 3 routes:\n%s", out)
	}
	col := func(row string, words ...string) int {
		for _, w := range words {
			if i := strings.Index(row, "  "+w+" "); i >= 0 {
				return i + 2
			}
		}
		return -1
	}
	protoCol, backendsCol := -1, -1
	for _, row := range rows {
		p := col(row, "tcp", "http", "stdio/stream")
		b := strings.Index(row, "1 backend(s)")
		if p < 0 || b < 0 {
			t.Fatalf("row %q lacks its protocol or backend count:\n%s", row, out)
		}
		if protoCol == -1 {
			protoCol, backendsCol = p, b
		}
		if p != protoCol || b != backendsCol {
			t.Fatalf("columns out of line (protocol at %d, want %d; backends at %d, want %d):\n%s", p, protoCol, b, backendsCol, out)
		}
	}
}

// TestGatewaySecondSignalStopsNow: SIGTERM drains the requests in flight (up
// to the shutdown grace, 15s); a second SIGINT or SIGTERM during that wait
// stops the gateway at once, as a user pressing Ctrl-C again expects (it was
// ignored: the gateway waited out the grace).
func TestGatewaySecondSignalStopsNow(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	// A backend that takes a request and answers only when the test ends.
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	bl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
	})}
	go srv.Serve(bl)
	defer srv.Close()
	defer close(release)
	_, bport, _ := net.SplitHostPort(bl.Addr().String())
	route := testutil.FreePort(t)
	cfg := filepath.Join(t.TempDir(), "gw.json")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`{"dashboard_port":"%d","routes":{"%d":{"backends":[{"cmd":"","internal_port":"%s"}]}}}`,
		testutil.FreePort(t), route, bport)), 0o600)
	g := startGateway(t, nil, "--config", cfg)
	url := fmt.Sprintf("http://127.0.0.1:%d/slow", route)
	testutil.Eventually(t, 15*time.Second, func() error {
		if !strings.Contains(g.out.String(), "gateway serving") {
			return fmt.Errorf("not serving yet:\n%s", g.out)
		}
		return nil
	})
	go testutil.HTTPGet(url, 60*time.Second)
	select {
	case <-arrived:
	case <-time.After(15 * time.Second):
		t.Fatalf("the request did not reach the backend:\n%s", g.out)
	}
	g.cmd.Process.Signal(syscall.SIGTERM)
	testutil.Eventually(t, 15*time.Second, func() error {
		if !strings.Contains(g.out.String(), "gateway stopping") {
			return fmt.Errorf("not stopping yet")
		}
		return nil
	})
	// The first signal alone drains: the gateway waits for the request.
	select {
	case <-g.waited:
		t.Fatalf("the gateway exited at the first signal with a request in flight\n%s", g.out)
	case <-time.After(300 * time.Millisecond):
	}
	if strings.Contains(g.out.String(), "second signal") {
		t.Fatalf("the first signal was taken for the second\n%s", g.out)
	}
	start := time.Now()
	g.cmd.Process.Signal(syscall.SIGINT)
	if code := g.wait(t); code != 0 {
		t.Errorf("exit %d after a requested stop that cut a request, want 0\n%s", code, g.out)
	}
	if !strings.Contains(g.out.String(), "requests in flight were cut") {
		t.Errorf("the cut request is not logged:\n%s", g.out)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("gateway took %v to exit after a second signal (shutdown grace 15s)\n%s", d, g.out)
	}
	if !strings.Contains(g.out.String(), "second signal") {
		t.Errorf("the early stop is not logged:\n%s", g.out)
	}
}

// A gateway killed with SIGKILL leaves the children of its backends'
// wrapper scripts running (Pdeathsig ends the script, not its children),
// holding the backend's port; the next gateway on the same config kills
// them and serves, instead of refusing the start while "another program
// holds internal_port".
func TestGatewayClearsLeftoversOfAKilledGateway(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "gateway.json")
	pidFile := filepath.Join(dir, "server.pid")
	admin, route, in := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	script := fmt.Sprintf("%s -m http.server --bind 127.0.0.1 %d & echo $! > %s; wait", py, in, pidFile)
	doc := fmt.Sprintf(`{"dashboard_port":"%d","routes":{"%d":{"backends":[{"cmd":"/bin/sh","args":["-c",%q],"cwd":%q,"internal_port":"%d"}]}}}`,
		admin, route, script, dir, in)
	if err := os.WriteFile(cfgPath, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	serves := func(g *gatewayProc) {
		t.Helper()
		testutil.Eventually(t, 40*time.Second, func() error {
			code, body, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", route))
			if err != nil || code != 200 {
				return fmt.Errorf("route: %d %v %.200s\n%s", code, err, body, g.out)
			}
			return nil
		})
	}
	g := startGateway(t, nil, "--config", cfgPath)
	serves(g)
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	first, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(first, syscall.SIGKILL) })
	// The record lists the backend's group (the wrapper's pid, which the
	// server shares).
	st, err := proc.ReadStat(first)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := os.ReadFile(filepath.Join(dir, ".gateway.json.running"))
	if err != nil || !strings.Contains(string(rec), fmt.Sprintf(`"groups":[%d]`, st.PGID)) {
		t.Fatalf("record %s (%v), want group %d", rec, err, st.PGID)
	}
	g.cmd.Process.Signal(syscall.SIGKILL)
	g.wait(t)
	time.Sleep(100 * time.Millisecond) // Pdeathsig's kill of the script is asynchronous
	if !proc.Alive(first) {
		t.Fatal("the wrapper's child died with the gateway: nothing left to clear")
	}

	g = startGateway(t, nil, "--config", cfgPath)
	serves(g)
	if proc.Alive(first) {
		t.Fatalf("the killed gateway's leftover %d still runs", first)
	}
	if !strings.Contains(g.out.String(), "killed the leftovers of a gateway that did not stop") {
		t.Fatalf("no log line for the cleared leftovers:\n%s", g.out)
	}
	g.cmd.Process.Signal(syscall.SIGTERM)
	if code := g.wait(t); code != 0 {
		t.Fatalf("exit %d\n%s", code, g.out)
	}
}
