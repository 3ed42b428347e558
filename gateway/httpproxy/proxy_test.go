package httpproxy

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warren-mesh/warren/gateway/backend"
	"github.com/warren-mesh/warren/gateway/balance"
	"github.com/warren-mesh/warren/gateway/config"
	"github.com/warren-mesh/warren/gateway/cors"
	"github.com/warren-mesh/warren/internal/testutil"
)

// upstream is a real net/http server on loopback.
type upstream struct {
	addr string
	srv  *http.Server
	done chan struct{}
}

func startUpstream(t *testing.T, name string) *upstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", name)
		fmt.Fprintf(w, "%s %s %s", name, r.Method, r.URL.RequestURI())
	})
	mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		for _, k := range []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded", HopHeader, "Connection", "Keep-Alive"} {
			fmt.Fprintf(w, "%s=%s\n", k, strings.Join(r.Header.Values(k), "|"))
		}
		fmt.Fprintf(w, "Host=%s\n", r.Host)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	})
	mux.HandleFunc("/sse", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		for i := range 3 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			f.Flush()
			if i == 0 {
				// Hold the stream until the client confirms it saw event 0:
				// proves the proxy streams instead of buffering.
				select {
				case <-r.Context().Done():
					return
				case <-sseGate(r):
				}
			}
		}
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "not an upgrade", 400)
			return
		}
		h := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		c, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", base64.StdEncoding.EncodeToString(h[:]))
		rw.Flush()
		// Echo raw bytes (frames are opaque to the proxy).
		buf := make([]byte, 4096)
		for {
			n, err := rw.Read(buf)
			if n > 0 {
				c.Write(buf[:n])
			}
			if err != nil {
				return
			}
		}
	})
	u := &upstream{addr: ln.Addr().String(), srv: &http.Server{Handler: mux}, done: make(chan struct{})}
	go func() { defer close(u.done); u.srv.Serve(ln) }()
	t.Cleanup(func() { u.srv.Close(); <-u.done })
	return u
}

var (
	gateMu sync.Mutex
	gates  = map[string]chan struct{}{}
)

func sseGate(r *http.Request) chan struct{} {
	gateMu.Lock()
	defer gateMu.Unlock()
	id := r.URL.Query().Get("id")
	if gates[id] == nil {
		gates[id] = make(chan struct{})
	}
	return gates[id]
}

func fixed(t *testing.T, name, addr string) *Target {
	t.Helper()
	b, err := backend.New(backend.Config{Name: name, Addr: addr, MaxFails: 1, FailCooldown: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(context.Background()) })
	return NewTarget(b)
}

// serve serves p on a new listener (serveOwn) and shuts it down when the
// test ends.
func serve(t *testing.T, p *Proxy) string {
	t.Helper()
	addr, done := serveOwn(t, p)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		<-done
		for _, tg := range p.Pool().Targets {
			tg.CloseIdle()
		}
	})
	return addr
}

func client() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
}

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := client().Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestProxyBasicAndHeaders(t *testing.T) {
	testutil.VerifyNoLeaks(t, FasthttpIgnores...)
	u := startUpstream(t, "a")
	p := New(Options{ID: "gw1", Name: "r"}, &Pool{Targets: []*Target{fixed(t, "a", u.addr)}})
	addr := serve(t, p)

	code, body, h := get(t, "http://"+addr+"/x/y?q=1")
	if code != 200 || body != "a GET /x/y?q=1" || h.Get("X-Backend") != "a" {
		t.Fatalf("got %d %q %v", code, body, h)
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/headers", nil)
	req.Host = "example.test:8080"
	req.Header.Set("X-Forwarded-For", "10.9.9.9")
	req.Header.Set("Forwarded", "for=10.9.9.9")
	req.Header.Set("Connection", "X-Secret")
	req.Header.Set("X-Secret", "hop")
	resp, err := client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := []string{
		"X-Forwarded-For=10.9.9.9, 127.0.0.1\n",
		"X-Forwarded-Proto=http\n",
		"X-Forwarded-Host=example.test:8080\n",
		`Forwarded=for=10.9.9.9, for=127.0.0.1;proto=http;host="example.test:8080"` + "\n",
		HopHeader + "=gw1\n",
		"Host=example.test:8080\n",
	}
	for _, w := range want {
		if !strings.Contains(string(b), w) {
			t.Errorf("upstream saw:\n%s\nmissing %q", b, w)
		}
	}
}

func TestProxyLoopDetected(t *testing.T) {
	testutil.VerifyNoLeaks(t, FasthttpIgnores...)
	// A route whose backend is the route itself: the second pass is refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	self := ln.Addr().String()
	p := New(Options{ID: "gwloop", Name: "loop"}, &Pool{Targets: []*Target{fixed(t, "self", self)}})
	done := make(chan struct{})
	go func() { defer close(done); p.Serve(ln) }()
	defer func() {
		p.Shutdown(context.Background())
		<-done
		p.Pool().Targets[0].CloseIdle()
	}()
	code, body, _ := get(t, "http://"+self+"/")
	if code != http.StatusLoopDetected || !strings.Contains(body, "routing loop") {
		t.Fatalf("got %d %q, want 508", code, body)
	}
	// Another gateway's ID is fine; ours is not, in any position.
	if !hasHop([]byte("a, gwloop ,b"), "gwloop") || hasHop([]byte("gwloopx,a"), "gwloop") {
		t.Fatal("hasHop")
	}
}

// Server-Sent Events stream event by event on both paths (the lane, and
// the general path a hop-by-hop Keep-Alive header sends the request to).
func TestProxySSEStreams(t *testing.T) {
	testutil.VerifyNoLeaks(t, FasthttpIgnores...)
	for _, path := range []struct {
		name, keepAlive string
		lane            int64 // requests the lane takes
	}{{"lane", "", 1}, {"general", "timeout=5", 0}} {
		t.Run(path.name, func(t *testing.T) {
			u := startUpstream(t, "a")
			p := New(Options{ID: "gw", Name: "sse"}, &Pool{Targets: []*Target{fixed(t, "a", u.addr)}})
			addr := serve(t, p)
			id := fmt.Sprint(time.Now().UnixNano())
			req, _ := http.NewRequest("GET", "http://"+addr+"/sse?id="+id, nil)
			if path.keepAlive != "" {
				req.Header.Set("Keep-Alive", path.keepAlive)
			}
			resp, err := client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
				t.Fatalf("content type %q", ct)
			}
			r := bufio.NewReader(resp.Body)
			line, err := r.ReadString('\n')
			if err != nil || line != "data: 0\n" {
				t.Fatalf("first event %q %v", line, err)
			}
			// Event 0 arrived while the backend is still holding the stream open.
			close(sseGate(&http.Request{URL: mustURL("/sse?id=" + id)}))
			rest, _ := io.ReadAll(r)
			if string(rest) != "\ndata: 1\n\ndata: 2\n\n" {
				t.Fatalf("rest %q", rest)
			}
			if n := laneServed(p); n != path.lane {
				t.Errorf("lane took %d requests, want %d", n, path.lane)
			}
			// The backend counts as busy only while the stream is open.
			testutil.Eventually(t, 5*time.Second, func() error {
				if n := p.Pool().Targets[0].Active(); n != 0 {
					return fmt.Errorf("active %d", n)
				}
				return nil
			})
		})
	}
}

func TestProxyWebSocket(t *testing.T) {
	testutil.VerifyNoLeaks(t, FasthttpIgnores...)
	u := startUpstream(t, "a")
	p := New(Options{ID: "gw", Name: "ws"}, &Pool{Targets: []*Target{fixed(t, "a", u.addr)}})
	addr := serve(t, p)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 || resp.Header.Get("Sec-Websocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("handshake: %d %v", resp.StatusCode, resp.Header)
	}
	for i := range 3 {
		msg := fmt.Sprintf("frame-%d", i)
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(br, buf); err != nil || string(buf) != msg {
			t.Fatalf("echo %q %v", buf, err)
		}
	}
	if n := p.Pool().Targets[0].Active(); n != 1 {
		t.Fatalf("open websocket: active %d, want 1", n)
	}
	c.Close()
	testutil.Eventually(t, 5*time.Second, func() error {
		if n := p.Pool().Targets[0].Active(); n != 0 {
			return fmt.Errorf("active %d", n)
		}
		return nil
	})
}

func TestProxyRetryAndPassiveHealth(t *testing.T) {
	testutil.VerifyNoLeaks(t, FasthttpIgnores...)
	u := startUpstream(t, "good")
	dead := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	pool := &Pool{Targets: []*Target{fixed(t, "dead", dead), fixed(t, "good", u.addr)}, Selector: &balance.RoundRobin{}}
	p := New(Options{ID: "gw", Name: "retry"}, pool)
	addr := serve(t, p)
	for i := range 6 {
		method := "GET"
		if i%2 == 1 {
			method = "POST" // not idempotent, but a refused connect sent nothing: safe to retry
		}
		req, _ := http.NewRequest(method, "http://"+addr+"/", strings.NewReader("x"))
		resp, err := client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(string(b), "good") {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, b)
		}
	}
	if pool.Targets[0].Available() {
		t.Fatal("dead backend still in rotation")
	}
}

func TestProxyAllDown(t *testing.T) {
	testutil.VerifyNoLeaks(t, FasthttpIgnores...)
	dead := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	p := New(Options{ID: "gw", Name: "down"}, &Pool{Targets: []*Target{fixed(t, "dead", dead)}})
	addr := serve(t, p)
	code, body, _ := get(t, "http://"+addr+"/")
	if code != http.StatusBadGateway || !strings.Contains(body, "backend error") {
		t.Fatalf("got %d %q", code, body)
	}
	// Out of rotation, but the only one: tried as a last resort, same answer.
	code, body, _ = get(t, "http://"+addr+"/")
	if code != http.StatusBadGateway || !strings.Contains(body, "backend error") {
		t.Fatalf("after passive health: %d %q", code, body)
	}
}

func TestProxyMaxBody(t *testing.T) {
	testutil.VerifyNoLeaks(t, FasthttpIgnores...)
	u := startUpstream(t, "a")
	p := New(Options{ID: "gw", Name: "body"}, &Pool{Targets: []*Target{fixed(t, "a", u.addr)}, MaxBodyBytes: 10})
	addr := serve(t, p)
	resp, err := client().Post("http://"+addr+"/echo", "text/plain", strings.NewReader("0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "0123456789" {
		t.Fatalf("at limit: %d %q", resp.StatusCode, b)
	}
	resp, err = client().Post("http://"+addr+"/echo", "text/plain", strings.NewReader("0123456789x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("over limit: %d", resp.StatusCode)
	}
}

func TestProxyLargeStreamedBody(t *testing.T) {
	testutil.VerifyNoLeaks(t, FasthttpIgnores...)
	u := startUpstream(t, "a")
	p := New(Options{ID: "gw", Name: "big"}, &Pool{Targets: []*Target{fixed(t, "a", u.addr)}})
	addr := serve(t, p)
	body := strings.Repeat("0123456789abcdef", (streamThreshold*2)/16)
	resp, err := client().Post("http://"+addr+"/echo", "text/plain", io.MultiReader(strings.NewReader(body))) // chunked
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(b) != len(body) || string(b) != body {
		t.Fatalf("echo of %d bytes: %d, got %d bytes", len(body), resp.StatusCode, len(b))
	}
}

func TestProxyColdStartErrors(t *testing.T) {
	testutil.VerifyNoLeaks(t, FasthttpIgnores...)
	addr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	never := func(ctx context.Context, _ io.Writer) (backend.Process, error) { return newIdleProc(), nil }
	b, err := backend.New(backend.Config{Name: "slow", Addr: addr, Launch: never, StartTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	p := New(Options{ID: "gw", Name: "cold"}, &Pool{Targets: []*Target{NewTarget(b)}})
	gw := serve(t, p)
	code, body, _ := get(t, "http://"+gw+"/")
	if code != http.StatusGatewayTimeout || !strings.Contains(body, "start_timeout") {
		t.Fatalf("got %d %q, want 504", code, body)
	}
	code, body, _ = get(t, "http://"+gw+"/")
	if code != http.StatusBadGateway || !strings.Contains(body, "failed its last start") {
		t.Fatalf("during backoff: %d %q, want 502", code, body)
	}
}

// An error answer's cause (addresses, file paths) is in the body only when
// the route shows causes (a loopback route); otherwise the body names the
// kind of failure and the cause goes to the log, once a second at most.
func TestProxyErrorCauseShownOnlyWhenAsked(t *testing.T) {
	testutil.VerifyNoLeaks(t, FasthttpIgnores...)
	const secret = "fork/exec /srv/secret/app: no such file or directory"
	for _, show := range []bool{false, true} {
		t.Run(fmt.Sprint("show=", show), func(t *testing.T) {
			addr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
			fails := func(ctx context.Context, _ io.Writer) (backend.Process, error) { return nil, errors.New(secret) }
			b, err := backend.New(backend.Config{Name: "app", Addr: addr, Launch: fails, StartTimeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close(context.Background())
			var logBuf testutil.SafeBuffer
			p := New(Options{ID: "gw", Name: "app", ShowCause: show, Log: slog.New(slog.NewTextHandler(&logBuf, nil))},
				&Pool{Targets: []*Target{NewTarget(b)}})
			gw := serve(t, p)
			for i := range 3 { // the start, then backoff answers
				code, body, _ := get(t, "http://"+gw+"/")
				if code != http.StatusBadGateway {
					t.Fatalf("request %d: %d %q", i, code, body)
				}
				if strings.Contains(body, "/srv/secret") != show {
					t.Fatalf("request %d, show=%v: body %q", i, show, body)
				}
				if !show && !strings.Contains(body, "the cause is in the gateway's log") {
					t.Fatalf("request %d: body %q does not say where the cause is", i, body)
				}
			}
			logged := logBuf.String()
			if show {
				if strings.Contains(logged, "gateway error answer") {
					t.Fatalf("causes shown and logged:\n%s", logged)
				}
				return
			}
			// Three failures within a second: one line, with the cause.
			if n := strings.Count(logged, "gateway error answer"); n != 1 || !strings.Contains(logged, "/srv/secret/app") {
				t.Fatalf("%d log lines, want 1 with the cause:\n%s", n, logged)
			}
		})
	}
}

// idleProc is a process that never listens and stops when told.
type idleProc struct {
	done chan struct{}
	once sync.Once
}

func newIdleProc() *idleProc              { return &idleProc{done: make(chan struct{})} }
func (p *idleProc) PID() int              { return 1 }
func (p *idleProc) Done() <-chan struct{} { return p.done }
func (p *idleProc) Stop(context.Context) error {
	p.once.Do(func() { close(p.done) })
	return nil
}

func TestLimitReader(t *testing.T) {
	r := &limitReader{r: strings.NewReader("abcdef"), n: 3}
	_, err := io.ReadAll(r)
	if !errors.Is(err, errBodyTooLarge) {
		t.Fatalf("err %v", err)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestProxyCORS(t *testing.T) {
	testutil.VerifyNoLeaks(t, FasthttpIgnores...)
	up := startUpstream(t, "a")
	pol := &cors.Policy{Mode: config.CORSTrusted, Origins: []string{"https://app.example"}, AllowMethods: []string{"GET", "PUT"}}
	p := New(Options{ID: "gw", Name: "cors"}, &Pool{Targets: []*Target{fixed(t, "a", up.addr)}, CORS: pol})
	addr := serve(t, p)
	do := func(method, origin string, hdr map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+addr+"/", nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	tests := []struct {
		name, method, origin string
		hdr                  map[string]string
		code                 int
		acao                 string
	}{
		{"no origin", "GET", "", nil, 200, ""},
		{"trusted", "GET", "https://app.example", nil, 200, "https://app.example"},
		{"foreign", "GET", "https://evil.example", nil, 403, ""},
		{"preflight", "OPTIONS", "https://app.example", map[string]string{"Access-Control-Request-Method": "PUT"}, 204, "https://app.example"},
		{"preflight refused method", "OPTIONS", "https://app.example", map[string]string{"Access-Control-Request-Method": "DELETE"}, 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := do(tt.method, tt.origin, tt.hdr)
			if resp.StatusCode != tt.code {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.code)
			}
			if got := resp.Header.Values("Access-Control-Allow-Origin"); len(got) > 1 || (tt.acao != "" && (len(got) != 1 || got[0] != tt.acao)) || (tt.acao == "" && len(got) != 0) {
				t.Fatalf("Access-Control-Allow-Origin %q, want %q", got, tt.acao)
			}
			if v := resp.Header.Values("Vary"); !slices.Contains(v, "Origin") {
				t.Fatalf("Vary %q", v)
			}
		})
	}
}

func TestProxyMaxBodyChunked(t *testing.T) {
	testutil.VerifyNoLeaks(t, FasthttpIgnores...)
	u := startUpstream(t, "a")
	p := New(Options{ID: "gw", Name: "body"}, &Pool{Targets: []*Target{fixed(t, "a", u.addr)}, MaxBodyBytes: 1 << 20})
	addr := serve(t, p)
	for _, size := range []int{2 << 20, 3 * streamThreshold} { // buffered, then streamed
		body := strings.Repeat("x", size)
		resp, err := client().Post("http://"+addr+"/echo", "text/plain", io.MultiReader(strings.NewReader(body)))
		if err != nil {
			// A streamed body may be cut by the gateway before it is all sent.
			t.Logf("chunked %d bytes: %v", size, err)
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("chunked %d bytes over a 1 MiB limit: %d", size, resp.StatusCode)
		}
		t.Logf("chunked %d bytes: %d", size, resp.StatusCode)
	}
}
