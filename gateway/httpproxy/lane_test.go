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
	"sync/atomic"
	"testing"
	"time"
)

// The lane (lane.go) serves keep-alive HTTP/1.1 clients; most tests in
// proxy_test.go use one request per connection (Connection: close), which
// the lane hands to the general path. These use keep-alive clients and
// raw connections, and check which path answered.

// bothPaths are a request the lane takes and one the general path takes
// (a hop-by-hop Keep-Alive header sends it there): header goes into the
// request head.
var bothPaths = []struct {
	name, header string
	lane         int64 // requests the lane takes
}{{"lane", "", 1}, {"general", "Keep-Alive: timeout=5\r\n", 0}}

func keepAliveClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: 10 * time.Second}
}

// laneOf returns p's lane, waiting (up to 5s) for Serve, which a test runs
// in a goroutine, to have created it; nil if it has not.
func laneOf(p *Proxy) *lane {
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		p.mu.Lock()
		ln := p.lane
		p.mu.Unlock()
		if ln != nil || time.Now().After(deadline) {
			return ln
		}
	}
}

func laneServed(p *Proxy) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lane == nil {
		return 0 // not serving yet
	}
	return p.lane.served.Load()
}

func getWith(t *testing.T, c *http.Client, url string, hdr map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// The lane sets the forwarding headers exactly as the general path does.
func TestLaneForwardsLikeGeneralPath(t *testing.T) {
	u := startUpstream(t, "a")
	p := New(Options{ID: "gw1"}, &Pool{Targets: []*Target{fixed(t, "a", u.addr)}})
	addr := serve(t, p)
	ka := keepAliveClient()
	for _, hdr := range []map[string]string{
		nil,
		{"X-Forwarded-For": "10.0.0.1", "Forwarded": "for=10.0.0.1", HopHeader: "other", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil"},
	} {
		before := laneServed(p)
		_, viaLane := getWith(t, ka, "http://"+addr+"/headers", hdr)
		if laneServed(p) != before+1 {
			t.Fatalf("keep-alive request not served by the lane (served %d -> %d)", before, laneServed(p))
		}
		// Keep-Alive (a hop-by-hop header both paths drop) sends the
		// request to the general path.
		gh := map[string]string{"Keep-Alive": "timeout=5"}
		for k, v := range hdr {
			gh[k] = v
		}
		_, viaGeneral := getWith(t, client(), "http://"+addr+"/headers", gh)
		if laneServed(p) != before+1 {
			t.Fatal("a request with Keep-Alive was served by the lane")
		}
		if viaLane != viaGeneral {
			t.Errorf("headers differ with %v\nlane:\n%s\ngeneral:\n%s", hdr, viaLane, viaGeneral)
		}
		if !strings.Contains(viaLane, "X-Forwarded-For=") || !strings.Contains(viaLane, HopHeader+"=") {
			t.Errorf("forwarding headers missing:\n%s", viaLane)
		}
	}
}

// Pipelined requests on one connection are answered in order.
func TestLanePipelining(t *testing.T) {
	p, c := upstreamConn(t)
	var reqs strings.Builder
	for i := range 5 {
		fmt.Fprintf(&reqs, "GET /p%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
	}
	reqs.WriteString("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
	if _, err := io.WriteString(c, reqs.String()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i := range 6 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		want := fmt.Sprintf("a GET /p%d", i)
		if i == 5 {
			want = "hello"
		}
		if string(b) != want {
			t.Errorf("response %d = %q, want %q", i, b, want)
		}
	}
	if n := laneServed(p); n != 6 {
		t.Errorf("lane served %d requests, want 6", n)
	}
}

// A connection moves to the general path at its first request the lane
// does not take, with the bytes it had read, and stays correct there.
func TestLaneFallbackMidConnection(t *testing.T) {
	p, c := upstreamConn(t)
	// A lane request, then a chunked upload (general path) sent in the
	// same write, then a plain request again (still general: for good).
	io.WriteString(c, "GET /one HTTP/1.1\r\nHost: x\r\n\r\n"+
		"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"+
		"GET /three HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i, want := range []string{"a GET /one", "hello world", "a GET /three"} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if string(b) != want {
			t.Errorf("response %d = %q, want %q", i, b, want)
		}
	}
	if n := laneServed(p); n != 1 {
		t.Errorf("lane served %d requests, want 1", n)
	}
}

// Request bodies: up to 64 KiB on the lane, larger ones on the general
// path; both arrive intact.
func TestLaneBodies(t *testing.T) {
	u := startUpstream(t, "a")
	p := New(Options{ID: "gw1"}, &Pool{Targets: []*Target{fixed(t, "a", u.addr)}})
	addr := serve(t, p)
	for _, size := range []int{1, 60 << 10, 200 << 10} {
		body := strings.Repeat("x", size-1) + "!"
		resp, err := keepAliveClient().Post("http://"+addr+"/echo", "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != body {
			t.Errorf("size %d: echoed %d bytes, want %d", size, len(b), size)
		}
	}
	if n := laneServed(p); n != 2 {
		t.Errorf("lane served %d requests, want 2 (the 200 KiB body goes to the general path)", n)
	}
}

// rawBackend serves each accepted connection with fn.
func rawBackend(t *testing.T, fn func(n int, c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); fn(int(n.Add(1)), c) }()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// pathBackend answers each request (bodies are not read) with fn, given
// the request's path; fn returns false to end the connection.
func pathBackend(t *testing.T, fn func(path string, c net.Conn) bool) string {
	return rawBackend(t, func(n int, c net.Conn) {
		br := bufio.NewReader(c)
		for {
			l, err := br.ReadString('\n')
			if err != nil || len(strings.Fields(l)) < 2 {
				return
			}
			readHead(br)
			if !fn(strings.Fields(l)[1], c) {
				return
			}
		}
	})
}

// readHead reads one request head from br.
func readHead(br *bufio.Reader) error {
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		if l == "\r\n" {
			return nil
		}
	}
}

// A pooled connection the backend closed after one answer: a GET is sent
// again on a new connection; a POST gets 502 (it may have been processed).
func TestLaneStalePooledConnection(t *testing.T) {
	addr := rawBackend(t, func(n int, c net.Conn) {
		br := bufio.NewReader(c)
		if readHead(br) != nil {
			return
		}
		io.WriteString(c, fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nconn%d", n))
		// Read the next request and hang up without answering.
		readHead(br)
	})
	p := New(Options{ID: "gw1"}, &Pool{Targets: []*Target{fixed(t, "a", addr)}})
	gw := serve(t, p)
	ka := keepAliveClient()
	if _, b := getWith(t, ka, "http://"+gw+"/", nil); b != "conn1" {
		t.Fatalf("first = %q", b)
	}
	if code, b := getWith(t, ka, "http://"+gw+"/", nil); code != 200 || b != "conn2" {
		t.Fatalf("GET on a stale pooled connection = %d %q, want 200 conn2", code, b)
	}
	resp, err := ka.Post("http://"+gw+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 502 || !strings.Contains(string(b), "backend error") {
		t.Errorf("POST on a stale pooled connection = %d %q, want 502", resp.StatusCode, b)
	}
}

// Responses framed by the connection's end, chunked ones with trailers,
// and 1xx interim responses.
func TestLaneResponseFraming(t *testing.T) {
	addr := pathBackend(t, func(path string, c net.Conn) bool {
		switch path {
		case "/close":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
			return false
		case "/chunked":
			io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n4;ext=1\r\nabcd\r\n3\r\nefg\r\n0\r\nX-T: v\r\n\r\n")
		case "/interim":
			io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
		return true
	})
	p := New(Options{ID: "gw1"}, &Pool{Targets: []*Target{fixed(t, "a", addr)}})
	gw := serve(t, p)
	ka := keepAliveClient()
	for path, want := range map[string]string{"/chunked": "abcdefg", "/interim": "ok", "/close": "until the end"} {
		code, b := getWith(t, ka, "http://"+gw+path, nil)
		if code != 200 || b != want {
			t.Errorf("%s = %d %q, want %q", path, code, b, want)
		}
	}
	if n := laneServed(p); n != 3 {
		t.Errorf("lane served %d, want 3", n)
	}
}

// A client that does not read: the lane stops reading the backend, so
// memory stays bounded; the body then arrives whole.
func TestLaneBackpressure(t *testing.T) {
	const size = 64 << 20
	var written atomic.Int64
	addr := rawBackend(t, func(n int, c net.Conn) {
		br := bufio.NewReader(c)
		if readHead(br) != nil {
			return
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", size)
		buf := make([]byte, 64<<10)
		for written.Load() < size {
			m, err := c.Write(buf)
			written.Add(int64(m))
			if err != nil {
				return
			}
		}
	})
	_, c := proxyConn(t, addr)
	c.(*net.TCPConn).SetReadBuffer(64 << 10)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	// Wait until the backend's writes stall.
	var last int64 = -1
	for i := 0; ; i++ {
		time.Sleep(200 * time.Millisecond)
		w := written.Load()
		if w == last {
			break
		}
		last = w
		if i > 50 {
			t.Fatalf("backend never stalled (%d bytes written)", w)
		}
	}
	if last >= size/2 {
		t.Fatalf("backend wrote %d of %d bytes to a client reading nothing: the lane buffers without bound", last, size)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || n != size {
		t.Fatalf("read %d bytes (%v), want %d", n, err, size)
	}
}

// request_timeout: no answer in time gives 504 on the lane too.
func TestLaneRequestTimeout(t *testing.T) {
	addr := rawBackend(t, func(n int, c net.Conn) {
		io.Copy(io.Discard, c) // never answers
	})
	p := New(Options{ID: "gw1"}, &Pool{Targets: []*Target{fixed(t, "a", addr)}, RequestTimeout: 300 * time.Millisecond})
	gw := serve(t, p)
	start := time.Now()
	code, b := getWith(t, keepAliveClient(), "http://"+gw+"/", nil)
	if code != 504 || !strings.Contains(b, "request_timeout") {
		t.Errorf("got %d %q, want 504", code, b)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("took %v", el)
	}
	if laneServed(p) != 1 {
		t.Errorf("lane served %d, want 1", laneServed(p))
	}
}

// An idle keep-alive connection is closed after IdleTimeout.
func TestLaneIdleTimeout(t *testing.T) {
	u := startUpstream(t, "a")
	p := New(Options{ID: "gw1", IdleTimeout: 300 * time.Millisecond}, &Pool{Targets: []*Target{fixed(t, "a", u.addr)}})
	gw := serve(t, p)
	c, err := net.Dial("tcp", gw)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("read on idle connection: %v, want EOF", err)
	}
	if el := time.Since(start); el < 200*time.Millisecond || el > 2*time.Second {
		t.Errorf("closed after %v, want about 300ms", el)
	}
}

// Shutdown lets a request in flight on the lane finish and closes idle
// connections.
func TestLaneShutdownDrains(t *testing.T) {
	release, arrived := make(chan struct{}), make(chan struct{}, 1)
	addr := rawBackend(t, func(n int, c net.Conn) {
		br := bufio.NewReader(c)
		for readHead(br) == nil {
			arrived <- struct{}{}
			<-release
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone")
		}
	})
	p := New(Options{ID: "gw1"}, &Pool{Targets: []*Target{fixed(t, "a", addr)}})
	gwAddr, served := serveOwn(t, p)
	idle, err := net.Dial("tcp", gwAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	busy, err := net.Dial("tcp", gwAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	io.WriteString(busy, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	waitFor(t, func() bool { return p.OpenConns() == 2 })
	<-arrived // the request is in flight at the backend
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- p.Shutdown(ctx)
	}()
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("idle connection: %v, want EOF at shutdown", err)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) with a request in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	busy.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(busy), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "done" {
		t.Errorf("in-flight request got %q", b)
	}
	if err := <-shut; err != nil {
		t.Error(err)
	}
	<-served
}

// upstreamConn serves a proxy to one startUpstream backend and returns a
// client connection to it.
func upstreamConn(t *testing.T) (*Proxy, net.Conn) {
	t.Helper()
	return proxyConn(t, startUpstream(t, "a").addr)
}

// proxyConn serves a proxy to the backend at addr and returns a client
// connection to it.
func proxyConn(t *testing.T, addr string) (*Proxy, net.Conn) {
	t.Helper()
	p := New(Options{ID: "gw1"}, &Pool{Targets: []*Target{fixed(t, "a", addr)}})
	c, err := net.Dial("tcp", serve(t, p))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return p, c
}

// serveOwn serves p on a new listener and leaves Shutdown to the test;
// served closes when Serve returns.
func serveOwn(t *testing.T, p *Proxy) (addr string, served <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); p.Serve(ln) }()
	return ln.Addr().String(), done
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// With several pooled connections the backend has closed, the retry dials
// a new one instead of taking the next stale one from the pool.
func TestLaneStaleRetryDialsFresh(t *testing.T) {
	addr := rawBackend(t, func(n int, c net.Conn) {
		br := bufio.NewReader(c)
		if readHead(br) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond) // concurrent first requests need a connection each
		io.WriteString(c, fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nconn%d", n))
		readHead(br) // the next request: hang up without answering
	})
	p := New(Options{ID: "gw1"}, &Pool{Targets: []*Target{fixed(t, "a", addr)}})
	gw := serve(t, p)
	// Client connections go to the loops in turn: two per loop, at once,
	// leave two pooled backend connections in each loop.
	lane := laneOf(p)
	var wg sync.WaitGroup
	for range 2 * len(lane.loops) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", gw)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil || resp.StatusCode != 200 {
				t.Errorf("first requests: %v", err)
			}
		}()
	}
	wg.Wait()
	for i, ll := range lane.loops {
		done := make(chan int)
		ll.l.Post(func() {
			n := 0
			for _, ups := range ll.idle {
				for _, up := range ups {
					if !up.c.Closed() {
						n++
					}
				}
			}
			done <- n
		})
		if n := <-done; n < 2 {
			t.Skipf("loop %d pools %d connections (want 2); cannot set up the case", i, n)
		}
	}
	// Every pool now holds only connections the backend will hang up on;
	// each GET must still succeed, on a fresh one.
	for i := range len(lane.loops) {
		code, b := getWith(t, keepAliveClient(), "http://"+gw+"/", nil)
		if code != 200 || !strings.HasPrefix(b, "conn") {
			t.Errorf("GET %d over stale pooled connections = %d %q, want 200", i, code, b)
		}
	}
}

// "Connection: close" is served on the lane, answered with Connection:
// close, and the connection ends after the response.
func TestLaneConnectionClose(t *testing.T) {
	p, c := upstreamConn(t)
	io.WriteString(c, "GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	all, err := io.ReadAll(c) // ends only if the gateway closes
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(all))), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "a GET /x" || !resp.Close {
		t.Errorf("body %q, Connection: close in response %v; raw:\n%s", b, resp.Close, all)
	}
	if laneServed(p) != 1 {
		t.Errorf("lane served %d, want 1", laneServed(p))
	}
}

// A Shutdown whose deadline passes with a request in flight ends it
// without counting a failure against the backend (nor retrying it).
func TestLaneShutdownDeadlineNoFailure(t *testing.T) {
	var conns atomic.Int32
	addr := rawBackend(t, func(n int, c net.Conn) {
		conns.Add(1)
		io.Copy(io.Discard, c) // never answers
	})
	tg := fixed(t, "a", addr) // MaxFails 1: one failure takes it out
	p := New(Options{ID: "gw1"}, &Pool{Targets: []*Target{tg}})
	gwAddr, served := serveOwn(t, p)
	c, err := net.Dial("tcp", gwAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	waitFor(t, func() bool { return conns.Load() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	p.Shutdown(ctx)
	<-served
	if !tg.Backend.Available() {
		t.Error("the backend was counted failed because the gateway shut down")
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d backend connections; the request was retried during shutdown", n)
	}
	if a := tg.Backend.Active(); a != 0 {
		t.Errorf("backend Active = %d after shutdown, want 0", a)
	}
}
