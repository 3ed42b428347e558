package stdio

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
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warren-mesh/warren/gateway/config"
	"github.com/warren-mesh/warren/internal/testutil"
	"github.com/warren-mesh/warren/proc"
)

var workerBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stdio-worker-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	workerBin = filepath.Join(dir, "worker")
	cmd := exec.Command("go", "build", "-o", workerBin, "./testdata/worker")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build worker: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fixture is a Server on a loopback listener plus a pid directory whose
// entries are the children it started.
type fixture struct {
	srv    *Server
	addr   string
	pidDir string
	client *http.Client
}

func newFixture(t *testing.T, mode string, tweak func(*Server), args ...string) *fixture {
	t.Helper()
	f := &fixture{pidDir: t.TempDir()}
	f.srv = &Server{Path: workerBin, Args: args, Env: []string{"PIDDIR=" + f.pidDir}, Mode: mode, Grace: 500 * time.Millisecond}
	if tweak != nil {
		tweak(f.srv)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = l.Addr().String()
	done := make(chan error, 1)
	go func() { done <- f.srv.Serve(context.Background(), l) }()
	tr := &http.Transport{}
	f.client = &http.Client{Transport: tr}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := f.srv.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		f.noChildren(t)
	})
	return f
}

// pids lists the children started so far.
func (f *fixture) pids(t *testing.T) []int {
	t.Helper()
	ents, err := os.ReadDir(f.pidDir)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range ents {
		n, _ := strconv.Atoi(e.Name())
		out = append(out, n)
	}
	return out
}

// noChildren waits until every child ever started is gone.
func (f *fixture) noChildren(t *testing.T) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, func() error {
		for _, p := range f.pids(t) {
			if proc.Alive(p) {
				return fmt.Errorf("child %d still alive", p)
			}
		}
		return nil
	})
}

func (f *fixture) url(path string) string { return "http://" + f.addr + path }

func TestHTTPEchoAndEnv(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	f := newFixture(t, config.StdioHTTP, nil, "cgi-echo")
	resp, err := f.client.Post(f.url("/run?x=1"), "text/plain", strings.NewReader("payload"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "payload" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	if resp.Header.Get("X-Method") != "POST" || resp.Header.Get("X-Query") != "x=1" || resp.Header.Get("X-Length") != "7" {
		t.Fatalf("CGI variables not passed: %v", resp.Header)
	}
	if len(f.pids(t)) != 1 {
		t.Fatalf("%d children for one request", len(f.pids(t)))
	}
}

func TestHTTPStatusHeadersAndRedirect(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	f := newFixture(t, config.StdioHTTP, nil, "cgi-status")
	resp, err := f.client.Get(f.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || resp.Header.Get("X-Custom") != "yes" || string(body) != "missing\n" || resp.Close {
		t.Fatalf("%d %v %q close=%v", resp.StatusCode, resp.Header, body, resp.Close)
	}

	g := newFixture(t, config.StdioHTTP, nil, "cgi-redirect")
	g.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err = g.client.Get(g.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "http://example.test/next" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
}

func TestHTTPStreamsBodyAsProduced(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	f := newFixture(t, config.StdioHTTP, nil, "cgi-stream")
	gate := filepath.Join(t.TempDir(), "go")
	resp, err := f.client.Get(f.url("/?" + gate))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	// The worker is still running (it waits for gate): the first line must
	// already have arrived.
	line, err := br.ReadString('\n')
	if err != nil || line != "first\n" {
		t.Fatalf("first chunk %q %v", line, err)
	}
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "second\n" {
		t.Fatalf("rest %q %v", rest, err)
	}
}

func TestHTTPTimeoutKillsChild(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	f := newFixture(t, config.StdioHTTP, func(s *Server) { s.RequestTimeout = 200 * time.Millisecond }, "hang")
	resp, err := f.client.Get(f.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(body), "no response within 200ms") {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	f.noChildren(t)
}

func TestHTTPTimeoutAfterHeaderCutsResponse(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	// The deadline must leave the worker time to start and send its header,
	// even on a loaded machine, so that it is the body that gets cut.
	f := newFixture(t, config.StdioHTTP, func(s *Server) { s.RequestTimeout = 2 * time.Second }, "hang-after-header")
	resp, err := f.client.Get(f.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Fatal("a response cut by the deadline looked complete")
	}
	f.noChildren(t)
}

func TestHTTPClientDisconnectKillsChild(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	f := newFixture(t, config.StdioHTTP, nil, "hang-after-header")
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", f.url("/"), nil)
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	if line != "started\n" {
		t.Fatalf("got %q", line)
	}
	if len(f.pids(t)) != 1 || !proc.Alive(f.pids(t)[0]) {
		t.Fatal("worker not running")
	}
	cancel() // the client goes away mid-response
	resp.Body.Close()
	f.noChildren(t)
}

func TestHTTPOutputLimit(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	f := newFixture(t, config.StdioHTTP, func(s *Server) { s.MaxOutput = 1 << 20 }, "big")
	resp, err := f.client.Get(f.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil || n > 1<<20 {
		t.Fatalf("read %d bytes, err %v: want a cut at 1 MiB", n, err)
	}
	f.noChildren(t)
}

func TestHTTPBadWorkers(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	for _, tc := range []struct{ mode, want string }{
		{"bad", "malformed"},
		{"exit1", "exited (status 1) without a response"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			f := newFixture(t, config.StdioHTTP, nil, tc.mode)
			resp, err := f.client.Get(f.url("/"))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 502 || !strings.Contains(string(body), tc.want) {
				t.Fatalf("%d %q", resp.StatusCode, body)
			}
			// What the worker printed stays in the gateway's log.
			if strings.Contains(string(body), "not a header") {
				t.Fatalf("worker output shown to the client: %q", body)
			}
		})
	}
	t.Run("missing program", func(t *testing.T) {
		f := newFixture(t, config.StdioHTTP, func(s *Server) { s.Path = "/nonexistent/worker" })
		resp, err := f.client.Get(f.url("/"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 502 {
			t.Fatalf("%d", resp.StatusCode)
		}
	})
}

func TestHTTPBodyLimit(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	f := newFixture(t, config.StdioHTTP, func(s *Server) { s.MaxBody = 10 }, "cgi-echo")
	resp, err := f.client.Post(f.url("/"), "text/plain", strings.NewReader(strings.Repeat("x", 100)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("%d", resp.StatusCode)
	}
	if len(f.pids(t)) != 0 {
		t.Fatal("a child was started for a body known to be too large")
	}
}

func TestShutdownKillsChildren(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	f := newFixture(t, config.StdioHTTP, nil, "hang-after-header")
	resp, err := f.client.Get(f.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if line, _ := bufio.NewReader(resp.Body).ReadString('\n'); line != "started\n" {
		t.Fatalf("got %q", line)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.srv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	f.noChildren(t)
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Fatal("response looked complete after shutdown")
	}
}

func dialStream(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

func TestStreamEchoAndHalfClose(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	f := newFixture(t, config.StdioStream, nil, "wc")
	c := dialStream(t, f.addr)
	payload := strings.Repeat("y", 200000)
	if _, err := io.WriteString(c, payload); err != nil {
		t.Fatal(err)
	}
	c.CloseWrite() // the worker answers only after EOF on its stdin
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "200000 bytes\n" {
		t.Fatalf("%q %v", got, err)
	}
	f.noChildren(t)
}

func TestStreamOneChildPerConnection(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	f := newFixture(t, config.StdioStream, nil, "cat")
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", f.addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			msg := fmt.Sprintf("conn %d\n", i)
			io.WriteString(c, msg)
			c.(*net.TCPConn).CloseWrite()
			got, err := io.ReadAll(c)
			if err != nil || string(got) != msg {
				errs <- fmt.Errorf("conn %d: %q %v", i, got, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(f.pids(t)); n != 5 {
		t.Fatalf("%d children for 5 connections", n)
	}
}

func TestStreamClientGoneKillsChild(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	f := newFixture(t, config.StdioStream, nil, "big") // writes forever, ignores stdin
	c := dialStream(t, f.addr)
	if _, err := io.ReadFull(c, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	c.SetLinger(0)
	c.Close()
	f.noChildren(t)
}

func TestStreamIdleTimeout(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	f := newFixture(t, config.StdioStream, func(s *Server) { s.ConnIdleTimeout = 100 * time.Millisecond }, "greet-then-wait")
	c := dialStream(t, f.addr)
	// "hello\n" (unless the idle timeout beat a slow start), then the idle
	// timeout closes the connection and kills the worker, which would
	// otherwise wait for its stdin forever.
	got, err := io.ReadAll(c)
	if err != nil || (string(got) != "hello\n" && string(got) != "") {
		t.Fatalf("%q %v", got, err)
	}
	f.noChildren(t)
}

func TestAutoMode(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	// Clients that talk first are recognised as soon as their bytes arrive;
	// the long sniff timeout only keeps a loaded machine from misfiling them.
	f := newFixture(t, config.StdioAuto, func(s *Server) { s.SniffTimeout = 5 * time.Second }, "cgi-echo")
	// An HTTP client gets the CGI treatment.
	resp, err := f.client.Post(f.url("/"), "text/plain", strings.NewReader("via http"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "via http" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	// A raw client gets the worker's stdout as is (header included).
	c := dialStream(t, f.addr)
	io.WriteString(c, "raw bytes")
	c.CloseWrite()
	got, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(got), "Content-Type: text/plain\n") || !strings.HasSuffix(string(got), "\n\nraw bytes") {
		t.Fatalf("stream reply %q", got)
	}
	// A client that says nothing is a stream client after SniffTimeout.
	g := newFixture(t, config.StdioAuto, func(s *Server) { s.SniffTimeout = 50 * time.Millisecond }, "greet-then-wait")
	c2 := dialStream(t, g.addr)
	line, err := bufio.NewReader(c2).ReadString('\n')
	if err != nil || line != "hello\n" {
		t.Fatalf("%q %v", line, err)
	}
}

func TestSniff(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	for _, tc := range []struct {
		in   string
		http bool
	}{
		{"GET / HTTP/1.1\r\n", true},
		{"OPTIONS * HTTP/1.1\r\n", true},
		{"GETAWAY", false},
		{"SSH-2.0-OpenSSH\r\n", false},
		{"\x16\x03\x01", false},
	} {
		a, b := net.Pipe()
		go func() { io.WriteString(a, tc.in); a.Close() }()
		sc, isHTTP, err := Sniff(b, time.Second, time.Second)
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if isHTTP != tc.http {
			t.Errorf("%q: http=%v", tc.in, isHTTP)
		}
		all, _ := io.ReadAll(sc)
		if string(all) != tc.in {
			t.Errorf("%q: replay %q", tc.in, all)
		}
		b.Close()
	}
}

func TestClosedServerRefuses(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	s := &Server{Path: workerBin}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	defer b.Close()
	if err := s.ServeConn(context.Background(), a); !errors.Is(err, ErrClosed) {
		t.Fatalf("ServeConn after Close = %v", err)
	}
}

// TestShellWrapperLeavesNoOrphan: a CGI script run through sh -c starts a
// background process that would outlive it (and holds stdout open). The
// request still completes and the background process is gone: the whole
// process group is stopped when the script ends.
func TestShellWrapperLeavesNoOrphan(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	f := newFixture(t, config.StdioHTTP, func(s *Server) {
		s.Path = "sh"
		s.Args = []string{"-c", `sleep 300 & echo $! > "$PIDDIR/$!"; printf 'Content-Type: text/plain\n\nok'`}
	})
	resp, err := f.client.Get(f.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	if len(f.pids(t)) != 1 {
		t.Fatalf("background pid not recorded: %v", f.pids(t))
	}
	f.noChildren(t)
}

// TestHTTPChildLingeringAfterOutput: a worker that closes its stdout (the
// response is complete) and then keeps running gets the response delivered
// whole, and is stopped after Grace rather than at the request deadline.
func TestHTTPChildLingeringAfterOutput(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	f := newFixture(t, config.StdioHTTP, func(s *Server) {
		s.Path = "sh"
		s.Args = []string{"-c", `echo $$ > "$PIDDIR/$$"; printf 'Content-Type: text/plain\n\nok'; exec >&-; sleep 300`}
		s.RequestTimeout = time.Minute // the old behaviour cut the body here
	})
	resp, err := f.client.Get(f.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || string(body) != "ok" {
		t.Fatalf("%d %q %v", resp.StatusCode, body, err)
	}
	f.noChildren(t)
}

func TestStreamShutdownKillsChild(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	f := newFixture(t, config.StdioStream, nil, "cat")
	c := dialStream(t, f.addr)
	io.WriteString(c, "ping\n")
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "ping\n" {
		t.Fatalf("%q %v", line, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.srv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	f.noChildren(t)
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("connection not closed cleanly: %v", err)
	}
}
