package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/warren-mesh/warren/gateway/config"
	"github.com/warren-mesh/warren/internal/testutil"
)

type fakeController struct {
	mu        sync.Mutex
	cfg       config.Config
	reloads   int
	killed    []string
	reloadErr error
}

func (f *fakeController) Status() any {
	return map[string]any{"routes": len(f.Config().Routes)}
}

func (f *fakeController) Logs(ref string) ([]string, error) {
	if ref != "18080/health" {
		return nil, fmt.Errorf("no backend %q", ref)
	}
	return []string{"line 1", "line 2"}, nil
}

func (f *fakeController) Kill(ref string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ref != "18080/health" {
		return fmt.Errorf("no backend %q", ref)
	}
	f.killed = append(f.killed, ref)
	return nil
}

func (f *fakeController) Config() config.Config {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cfg.Clone()
}

func (f *fakeController) Reload(c config.Config) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reloadErr != nil {
		return f.reloadErr
	}
	f.cfg = c
	f.reloads++
	return nil
}

const token = "0123456789abcdef0123456789abcdef"

type fixture struct {
	srv    *Server
	ctl    *fakeController
	path   string
	client *http.Client
	base   string
}

func newFixture(t *testing.T, tweak func(*Server)) *fixture {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	if err := config.Save(path, config.Default()); err != nil {
		t.Fatal(err)
	}
	f := &fixture{ctl: &fakeController{cfg: config.Default()}, path: path}
	f.srv = &Server{Controller: f.ctl, Listen: "127.0.0.1:0", Token: token, ConfigPath: path,
		TrustedOrigins: []string{"http://dash.test:3000"}}
	if tweak != nil {
		tweak(f.srv)
	}
	if err := f.srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	f.client = &http.Client{Transport: tr}
	f.base = f.srv.URL()
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := f.srv.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return f
}

type req struct {
	method, path, body string
	header             map[string]string
	host               string
	noToken            bool
}

func (f *fixture) do(t *testing.T, r req) (int, map[string]any) {
	t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr, err := http.NewRequest(r.method, f.base+r.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if !r.noToken {
		hr.Header.Set("Authorization", "Bearer "+token)
	}
	if r.body != "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	if r.host != "" {
		hr.Host = r.host
	}
	resp, err := f.client.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	if m == nil {
		m = map[string]any{"raw": string(data)}
	}
	return resp.StatusCode, m
}

func TestRefusals(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	f := newFixture(t, nil)
	good := `{"routes":{"18081":{"backends":[{"cmd":"internal"}]}}}`
	tests := []struct {
		name   string
		r      req
		status int
		code   string
	}{
		{"missing token", req{method: "GET", path: "/status", noToken: true}, 401, "unauthorized"},
		{"wrong token", req{method: "GET", path: "/status", header: map[string]string{"Authorization": "Bearer nope"}}, 401, "unauthorized"},
		{"basic auth is not a token", req{method: "GET", path: "/status", header: map[string]string{"Authorization": "Basic " + token}}, 401, "unauthorized"},
		{"DNS rebinding host", req{method: "GET", path: "/status", host: "evil.test:9800"}, 403, "bad_host"},
		{"rebinding host without port", req{method: "GET", path: "/config", host: "attacker.example"}, 403, "bad_host"},
		{"foreign origin", req{method: "GET", path: "/status", header: map[string]string{"Origin": "http://evil.test"}}, 403, "bad_origin"},
		{"foreign origin put", req{method: "PUT", path: "/config", body: good, header: map[string]string{"Origin": "http://evil.test"}}, 403, "bad_origin"},
		{"null origin", req{method: "POST", path: "/kill", body: `{"ref":"18080/health"}`, header: map[string]string{"Origin": "null"}}, 403, "bad_origin"},
		{"cross-site fetch metadata", req{method: "GET", path: "/status", header: map[string]string{"Sec-Fetch-Site": "cross-site"}}, 403, "bad_origin"},
		{"form body (CSRF)", req{method: "POST", path: "/kill", body: `ref=18080/health`, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, 415, "bad_content_type"},
		{"text/plain body (CSRF)", req{method: "PUT", path: "/config", body: good, header: map[string]string{"Content-Type": "text/plain"}}, 415, "bad_content_type"},
		{"no content type", req{method: "POST", path: "/validate", body: good, header: map[string]string{"Content-Type": ""}}, 415, "bad_content_type"},
		{"no token beats rebinding check order", req{method: "GET", path: "/status", host: "evil.test", noToken: true}, 403, "bad_host"},
		{"rebinding name starting with an IP", req{method: "GET", path: "/status", host: "127.0.0.1.evil.test:9800"}, 403, "bad_host"},
		{"unspecified address (0.0.0.0 day)", req{method: "GET", path: "/status", host: "0.0.0.0:9800"}, 403, "bad_host"},
		{"unspecified IPv6 address", req{method: "GET", path: "/status", host: "[::]:9800"}, 403, "bad_host"},
		{"another machine's address", req{method: "GET", path: "/status", host: "192.0.2.1"}, 403, "bad_host"},
		{"rebinding name under localhost.", req{method: "GET", path: "/status", host: "localhost.evil.test"}, 403, "bad_host"},
		{"config body over the limit", req{method: "PUT", path: "/config", body: `{"routes":{}, "x": "` + strings.Repeat("a", config.MaxSize) + `"}`}, 413, "too_large"},
		{"validate body over the limit", req{method: "POST", path: "/validate", body: strings.Repeat(" ", config.MaxSize+1)}, 413, "too_large"},
		{"unknown path", req{method: "GET", path: "/nope"}, 404, "not_found"},
		{"wrong method", req{method: "DELETE", path: "/status"}, 405, "method_not_allowed"},
		{"wrong method with a body", req{method: "POST", path: "/config", body: good}, 405, "method_not_allowed"},
		{"unknown path needs the token", req{method: "GET", path: "/nope", noToken: true}, 401, "unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, m := f.do(t, tt.r)
			if status != tt.status || m["code"] != tt.code {
				t.Fatalf("got %d %v, want %d %s", status, m, tt.status, tt.code)
			}
		})
	}
	if f.ctl.reloads != 0 || len(f.ctl.killed) != 0 {
		t.Fatalf("a refused request reached the controller: %d reloads, kills %v", f.ctl.reloads, f.ctl.killed)
	}
}

func TestAllowedCallers(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	f := newFixture(t, nil)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(f.base, "http://"))
	for _, r := range []req{
		{method: "GET", path: "/status"},
		{method: "GET", path: "/status", host: "localhost:" + port},
		{method: "GET", path: "/status", host: "localhost.:" + port},
		{method: "GET", path: "/status", host: "[::1]:" + port},
		{method: "GET", path: "/status", host: "[::1]"},
		{method: "GET", path: "/status", host: "127.0.0.2:" + port}, // all of 127/8 is this machine
		{method: "GET", path: "/status", noToken: true, header: map[string]string{"Authorization": "bearer " + token}},
		{method: "GET", path: "/status", header: map[string]string{"Origin": "http://dash.test:3000"}},
		{method: "GET", path: "/status", header: map[string]string{"Origin": f.base}},
		{method: "POST", path: "/validate", body: `{}`, header: map[string]string{"Content-Type": "application/json; charset=utf-8"}},
	} {
		if status, m := f.do(t, r); status != 200 {
			t.Errorf("%+v: %d %v", r, status, m)
		}
	}
}

func TestHealthNeedsNoToken(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	f := newFixture(t, func(s *Server) {
		s.Health = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"status":"ok"}`) })
	})
	if status, m := f.do(t, req{method: "GET", path: "/healthz", noToken: true}); status != 200 || m["status"] != "ok" {
		t.Fatalf("healthz: %d %v", status, m)
	}
	if status, _ := f.do(t, req{method: "GET", path: "/healthz", noToken: true, host: "evil.test"}); status != 403 {
		t.Fatalf("healthz with a rebinding host: %d", status)
	}
	// The config's trusted origins count too.
	f.ctl.cfg.TrustedOrigins = []string{"http://cfg.test"}
	if status, _ := f.do(t, req{method: "GET", path: "/status", header: map[string]string{"Origin": "http://cfg.test"}}); status != 200 {
		t.Fatalf("config-trusted origin: %d", status)
	}
}

func TestEndpoints(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	f := newFixture(t, nil)
	if status, m := f.do(t, req{method: "GET", path: "/status"}); status != 200 || m["routes"] != float64(1) {
		t.Fatalf("status: %d %v", status, m)
	}
	if status, m := f.do(t, req{method: "GET", path: "/logs?ref=18080/health"}); status != 200 || len(m["lines"].([]any)) != 2 {
		t.Fatalf("logs: %d %v", status, m)
	}
	if status, _ := f.do(t, req{method: "GET", path: "/logs?ref=9/x"}); status != 404 {
		t.Fatalf("logs of unknown ref: %d", status)
	}
	if status, _ := f.do(t, req{method: "GET", path: "/logs"}); status != 400 {
		t.Fatalf("logs without ref: %d", status)
	}
	if status, m := f.do(t, req{method: "POST", path: "/kill", body: `{"ref":"18080/health"}`}); status != 200 || len(f.ctl.killed) != 1 {
		t.Fatalf("kill: %d %v", status, m)
	}
	if status, _ := f.do(t, req{method: "POST", path: "/kill", body: `{"ref":"nope"}`}); status != 404 {
		t.Fatalf("kill unknown: %d", status)
	}
	if status, _ := f.do(t, req{method: "POST", path: "/kill", body: `{"reff":"x"}`}); status != 400 {
		t.Fatalf("kill bad body: %d", status)
	}
	if status, _ := f.do(t, req{method: "GET", path: "/kill"}); status != 405 {
		t.Fatalf("GET /kill: %d (state must not change on GET)", status)
	}
	status, m := f.do(t, req{method: "GET", path: "/config"})
	if status != 200 || m["dashboard_port"] != "9800" {
		t.Fatalf("get config: %d %v", status, m)
	}
	status, m = f.do(t, req{method: "GET", path: "/config?effective=1"})
	if routes, _ := m["routes"].(map[string]any); status != 200 || routes["18080"].(map[string]any)["start_timeout"] != "30s" {
		t.Fatalf("effective config: %d %v", status, m)
	}
	status, m = f.do(t, req{method: "POST", path: "/validate", body: `{"routes":{"1":{"backends":[]}}}`})
	if status != 400 || !strings.Contains(m["error"].(string), `routes["1"].backends`) {
		t.Fatalf("validate: %d %v", status, m)
	}
}

func TestPutConfig(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	f := newFixture(t, nil)
	before, _ := os.ReadFile(f.path)

	// Invalid: 400 naming the field, nothing reloaded, file untouched.
	status, m := f.do(t, req{method: "PUT", path: "/config", body: `{"routes":{"18080":{"backends":[{"cmd":"","internal_port":"18080"}]}}}`})
	if status != 400 || !strings.Contains(m["error"].(string), `routes["18080"].backends[0].internal_port`) {
		t.Fatalf("invalid put: %d %v", status, m)
	}
	if after, _ := os.ReadFile(f.path); string(after) != string(before) || f.ctl.reloads != 0 {
		t.Fatal("an invalid config changed something")
	}

	// Reload refused by the engine (say a port in use): file untouched.
	f.ctl.reloadErr = errors.New("route 18081: listen: address already in use")
	status, m = f.do(t, req{method: "PUT", path: "/config", body: `{"routes":{"18081":{"backends":[{"cmd":"internal"}]}}}`})
	if status != 409 || !strings.Contains(m["error"].(string), "address already in use") {
		t.Fatalf("failed reload: %d %v", status, m)
	}
	if after, _ := os.ReadFile(f.path); string(after) != string(before) {
		t.Fatal("a failed reload changed the file")
	}
	f.ctl.reloadErr = nil

	// Valid: reloaded, saved, diff reported.
	status, m = f.do(t, req{method: "PUT", path: "/config", body: `{"routes":{"18080":{"name":"health","protocol":"http","backends":[{"name":"health","cmd":"internal"}]},"18081":{"backends":[{"cmd":"internal"}]}}}`})
	if status != 200 || fmt.Sprint(m["added"]) != "[18081]" || fmt.Sprint(m["unchanged"]) != "[18080]" {
		t.Fatalf("put: %d %v", status, m)
	}
	saved, err := config.Load(f.path)
	if err != nil || len(saved.Routes) != 2 || f.ctl.reloads != 1 {
		t.Fatalf("saved %v %v, reloads %d", saved.Routes, err, f.ctl.reloads)
	}
	fi, _ := os.Stat(f.path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("config file mode %v", fi.Mode())
	}
	if _, ok := m["warning"]; ok {
		t.Fatalf("a warning with the admin address unchanged: %v", m)
	}

	// A new admin address is applied at the next start only: the answer says so.
	status, m = f.do(t, req{method: "PUT", path: "/config", body: `{"dashboard_port":"19999","routes":{"18080":{"name":"health","protocol":"http","backends":[{"name":"health","cmd":"internal"}]}}}`})
	if w, _ := m["warning"].(string); status != 200 || !strings.Contains(w, "until the gateway restarts") || !strings.Contains(w, "19999") {
		t.Fatalf("put with a new admin port: %d %v", status, m)
	}
}

func TestNoTokenNeedsLoopback(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	ctl := &fakeController{cfg: config.Default()}
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", "192.0.2.1:0"} {
		s := &Server{Controller: ctl, Listen: addr}
		if err := s.Start(context.Background()); !errors.Is(err, ErrNoToken) {
			t.Errorf("%s without token: %v", addr, err)
			s.Close(context.Background())
		}
	}
	// On loopback a token-less API works (for tests and trusted single-user boxes).
	s := &Server{Controller: ctl, Listen: "127.0.0.1:0"}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(s.URL() + "/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%d", resp.StatusCode)
	}
}

func TestUnixSocket(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	sock := filepath.Join(t.TempDir(), "admin.sock")
	ctl := &fakeController{cfg: config.Default()}
	s := &Server{Controller: ctl, Listen: "unix:" + sock, Token: token}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v %v", fi.Mode(), err)
	}
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}
	client := &http.Client{Transport: tr}
	get := func(tok string) int {
		r, _ := http.NewRequest("GET", "http://localhost/status", nil)
		if tok != "" {
			r.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := client.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if get(token) != 200 || get("") != 401 {
		t.Fatal("unix socket auth")
	}
	tr.CloseIdleConnections()
	// A second server on the same live socket is refused.
	s2 := &Server{Controller: ctl, Listen: "unix:" + sock, Token: token}
	if err := s2.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "another gateway") {
		t.Fatalf("second server: %v", err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatal("socket left behind")
	}
}

func TestToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "admin.token")
	tok, created, err := LoadOrCreateToken(path)
	if err != nil || !created || len(tok) != 2*TokenBytes {
		t.Fatalf("%q %v %v", tok, created, err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	again, created, err := LoadOrCreateToken(path)
	if err != nil || created || again != tok {
		t.Fatalf("second load: %q %v %v", again, created, err)
	}
	os.Chmod(path, 0o644)
	if _, _, err := LoadOrCreateToken(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable token accepted: %v", err)
	}
	cfg := config.Default()
	if got := TokenPath(cfg, "/etc/warren/gateway.json"); got != "/etc/warren/admin.token" {
		t.Fatal(got)
	}
}

// TestMissingHost sends an HTTP/1.0 request without a Host header over TCP:
// nothing says it is meant for this API, so it is refused (HTTP/1.1 without
// Host is refused by net/http itself).
func TestMissingHost(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	f := newFixture(t, nil)
	c, err := net.Dial("tcp", strings.TrimPrefix(f.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /status HTTP/1.0\r\nAuthorization: Bearer %s\r\n\r\n", token)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(body), "bad_host") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

// TestUnixSocketNeverPublishedOpen checks the socket path never exists with
// a mode wider than 0600, even for a moment, under the umask 002 many
// systems use (which leaves a freshly bound socket group-writable, so
// connectable by the group).
func TestUnixSocketNeverPublishedOpen(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	old := syscall.Umask(0o002)
	defer syscall.Umask(old)
	sock := filepath.Join(t.TempDir(), "admin.sock")
	checked := false
	s := &Server{Controller: &fakeController{cfg: config.Default()}, Listen: "unix:" + sock}
	s.testHookBound = func() {
		checked = true
		if fi, err := os.Stat(sock); err == nil && fi.Mode().Perm() != 0o600 {
			t.Errorf("socket reachable at %s with mode %04o before it was restricted", sock, fi.Mode().Perm())
		}
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	if !checked {
		t.Fatal("hook not called")
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v %v", fi.Mode(), err)
	}
	entries, _ := os.ReadDir(filepath.Dir(sock))
	if len(entries) != 1 {
		t.Fatalf("left in the socket's directory: %v", entries)
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}
