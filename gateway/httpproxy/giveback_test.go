package httpproxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warren-mesh/warren/gateway/backend"
	"github.com/warren-mesh/warren/internal/testutil"
)

// serverProc is a backend "process": an HTTP server in this process,
// listening on the backend's address once launched.
type serverProc struct {
	srv  *http.Server
	done chan struct{}
}

func (p *serverProc) PID() int              { return 1 }
func (p *serverProc) Done() <-chan struct{} { return p.done }
func (p *serverProc) Stop(context.Context) error {
	p.srv.Close()
	<-p.done
	return nil
}

// gatedColdTarget: a target whose backend starts on the first request; its launch reports on launched
// and waits for gate before it listens.
func gatedColdTarget(t *testing.T) (*Target, chan struct{}, chan struct{}) {
	return gatedColdTargetHook(t, nil)
}

func gatedColdTargetHook(t *testing.T, hook func(*http.Request)) (*Target, chan struct{}, chan struct{}) {
	t.Helper()
	launched, gate := make(chan struct{}), make(chan struct{})
	var once sync.Once
	addr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	launch := func(ctx context.Context, _ io.Writer) (backend.Process, error) {
		once.Do(func() { close(launched) })
		<-gate
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, err
		}
		p := &serverProc{done: make(chan struct{}), srv: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			if hook != nil {
				hook(r)
			}
			fmt.Fprintf(w, "%s %s", r.Method, r.URL.Path)
		})}}
		go func() { defer close(p.done); p.srv.Serve(ln) }()
		return p, nil
	}
	b, err := backend.New(backend.Config{Name: "cold", Addr: addr, Launch: launch})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(context.Background()) })
	return NewTarget(b), launched, gate
}

// coldTarget is a target whose backend starts (listens) on the first
// request, answering "<method> <path>" to every request.
func coldTarget(t *testing.T) *Target {
	t.Helper()
	tg, _, gate := gatedColdTargetHook(t, nil)
	close(gate)
	return tg
}

// exchange writes raw requests in one write and reads one response per
// path, checking each body.
func exchange(t *testing.T, c net.Conn, br *bufio.Reader, raw string, paths ...string) {
	t.Helper()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	for _, path := range paths {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response for %s: %v", path, err)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 || !strings.HasSuffix(string(body), " "+path) {
			t.Fatalf("response for %s: %d %q %v", path, resp.StatusCode, body, err)
		}
	}
}

// dialClient connects to addr with a 10 s deadline; the connection
// closes when the test ends.
func dialClient(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

func get1(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n" }

// A keep-alive connection whose first requests came during a cold start
// (the general path answered them) is given back to the lane once they
// are answered: its next requests take the lane. Requests pipelined
// behind the first, which the general path's reader holds when it gives
// the connection back, are answered in order.
func TestColdStartConnectionReturnsToLane(t *testing.T) {
	testutil.VerifyNoLeaks(t, FasthttpIgnores...)
	// With send_timeout the connection is wrapped three times on the
	// general path (sendConn, returnable, prefixConn).
	p := New(Options{ID: "gw", SendTimeout: time.Minute}, &Pool{Targets: []*Target{coldTarget(t)}})
	gw := serve(t, p)
	c, br := dialClient(t, gw)

	exchange(t, c, br, get1("/1")+get1("/2")+get1("/3"), "/1", "/2", "/3")
	lane0 := laneServed(p)
	for i := range 5 {
		path := fmt.Sprintf("/after%d", i)
		exchange(t, c, br, get1(path), path)
	}
	if n := laneServed(p) - lane0; n != 5 {
		t.Fatalf("the lane served %d of the 5 requests after the cold start, want 5", n)
	}
	// Pipelined requests on the returned connection, and a body.
	exchange(t, c, br, get1("/p1")+"POST /p2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"+get1("/p3"), "/p1", "/p2", "/p3")
	// Counted once, by the lane, and not at all once it is closed.
	openConns := func(want int) func() error {
		return func() error {
			if n := p.OpenConns(); n != want {
				return fmt.Errorf("%d open connections, want %d", n, want)
			}
			return nil
		}
	}
	testutil.Eventually(t, 5*time.Second, openConns(1))
	c.Close()
	testutil.Eventually(t, 5*time.Second, openConns(0))
}

// A connection the lane gave up for a reason of its request (here a
// chunked body, which the lane does not parse) stays on the general
// path: handing it back and forth would cost more than the lane saves.
func TestRequestFallbackStaysOnGeneralPath(t *testing.T) {
	u := startUpstream(t, "a")
	p := New(Options{ID: "gw"}, &Pool{Targets: []*Target{fixed(t, "a", u.addr)}})
	gw := serve(t, p)
	c, br := dialClient(t, gw)
	exchange(t, c, br, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\na /x\r\n0\r\n\r\n", "/x")
	lane0 := laneServed(p)
	for range 3 {
		exchange(t, c, br, get1("/g"), "/g")
	}
	if n := laneServed(p) - lane0; n != 0 {
		t.Fatalf("the lane served %d requests of a connection given up for its request, want 0", n)
	}
}
