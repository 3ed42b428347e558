package httpproxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warren-mesh/warren/gateway/balance"
	"github.com/warren-mesh/warren/internal/testutil"
)

// Half-close: the client's pipelined requests and FIN arrive while the
// general path waits for the start; all are answered, then EOF.
func TestReviewHalfCloseDuringHandBack(t *testing.T) {
	for _, st := range []time.Duration{0, time.Minute} {
		t.Run(fmt.Sprint(st), func(t *testing.T) {
			tg, launched, gate := gatedColdTarget(t)
			p := New(Options{ID: "gw", SendTimeout: st}, &Pool{Targets: []*Target{tg}})
			gw := serve(t, p)
			c, br := dialClient(t, gw)
			io.WriteString(c, get1("/1"))
			<-launched
			io.WriteString(c, get1("/2")+get1("/3"))
			c.(*net.TCPConn).CloseWrite()
			close(gate)
			for _, path := range []string{"/1", "/2", "/3"} {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("response for %s: %v", path, err)
				}
				body, _ := io.ReadAll(resp.Body)
				if !strings.HasSuffix(string(body), " "+path) {
					t.Fatalf("response for %s: %d %q", path, resp.StatusCode, body)
				}
			}
			if b, err := br.ReadByte(); err != io.EOF {
				t.Fatalf("after the responses: %q %v, want EOF", b, err)
			}
		})
	}
}

// A body whose bytes look like a request, sent during a cold start with a
// request pipelined behind it: the body must not be parsed as a request.
func TestReviewBodyDuringColdStart(t *testing.T) {
	for _, n := range []int{0, 100 << 10, 5 << 20} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			p := New(Options{ID: "gw"}, &Pool{Targets: []*Target{coldTarget(t)}})
			gw := serve(t, p)
			c, br := dialClient(t, gw)
			c.SetDeadline(time.Now().Add(20 * time.Second))
			evil := strings.Repeat("x", n) + get1("/evil")
			raw := fmt.Sprintf("POST /1 HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(evil), evil)
			go io.WriteString(c, raw+get1("/2"))
			exchange(t, c, br, "", "/1", "/2")
			// giveBack skips a request with a streamed body (IsBodyStream);
			// was /2 served by the lane, i.e. the connection handed back
			// right after the POST?
			t.Logf("body %d: lane served %d of /1,/2", n, laneServed(p))
			exchange(t, c, br, get1("/3"), "/3")
			exchange(t, c, br, get1("/4"), "/4")
		})
	}
}

// Chunked body during a cold start (the lane gives it up for the request,
// but the connection may already be returnable from an earlier request).
func TestReviewChunkedAfterColdStart(t *testing.T) {
	tg, launched, gate := gatedColdTarget(t)
	p := New(Options{ID: "gw"}, &Pool{Targets: []*Target{tg}})
	gw := serve(t, p)
	c, br := dialClient(t, gw)
	io.WriteString(c, get1("/1"))
	<-launched
	// pipelined behind /1 on the general path: a chunked body whose data is a request
	chunk := get1("/evil")
	io.WriteString(c, fmt.Sprintf("POST /2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(chunk), chunk)+get1("/3"))
	close(gate)
	exchange(t, c, br, "", "/1", "/2", "/3")
	exchange(t, c, br, get1("/4"), "/4")
}

func openFds(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	return len(ents)
}

// Many connections handed back at once: no fd or goroutine leaks, counted
// right, closed at the end.
func TestReviewManyHandBacksNoLeak(t *testing.T) {
	testutil.VerifyNoLeaks(t, FasthttpIgnores...)
	tg, launched, gate := gatedColdTarget(t)
	p := New(Options{ID: "gw", SendTimeout: time.Minute}, &Pool{Targets: []*Target{tg}})
	gw := serve(t, p)
	fds0 := openFds(t)
	const n = 40
	conns := make([]net.Conn, n)
	for i := range conns {
		c, _ := dialClient(t, gw)
		conns[i] = c
		io.WriteString(c, get1(fmt.Sprintf("/a%d", i))+get1(fmt.Sprintf("/b%d", i)))
	}
	<-launched
	close(gate)
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			br := bufioReader(c)
			exchange(t, c, br, "", fmt.Sprintf("/a%d", i), fmt.Sprintf("/b%d", i))
			for j := range 3 {
				path := fmt.Sprintf("/c%d_%d", i, j)
				exchange(t, c, br, get1(path), path)
			}
		}()
	}
	wg.Wait()
	testutil.Eventually(t, 5*time.Second, func() error {
		if o := p.OpenConns(); o != n {
			return fmt.Errorf("%d open, want %d", o, n)
		}
		return nil
	})
	for _, c := range conns {
		c.Close()
	}
	testutil.Eventually(t, 5*time.Second, func() error {
		if o := p.OpenConns(); o != 0 {
			return fmt.Errorf("%d open, want 0", o)
		}
		if f := closeWait(t, gw); f > 0 {
			return fmt.Errorf("%d gateway sockets in CLOSE_WAIT (fds now %d, %d before)", f, openFds(t), fds0)
		}
		return nil
	})
}

// Shutdown while connections are being handed back.
func TestReviewShutdownDuringHandBack(t *testing.T) {
	testutil.VerifyNoLeaks(t, FasthttpIgnores...)
	for round := range 10 {
		tg, launched, gate := gatedColdTarget(t)
		p := New(Options{ID: "gw"}, &Pool{Targets: []*Target{tg}})
		addr, done := serveOwn(t, p)
		const n = 20
		conns := make([]net.Conn, n)
		for i := range conns {
			c, _ := dialClient(t, addr)
			conns[i] = c
			io.WriteString(c, get1("/a")+get1("/b"))
		}
		<-launched
		close(gate)
		// Shutdown as the first responses go out.
		b := bufioReader(conns[0])
		if _, err := http.ReadResponse(b, nil); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		start := time.Now()
		if err := p.Shutdown(ctx); err != nil {
			t.Errorf("round %d: shutdown: %v", round, err)
		}
		cancel()
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("round %d: shutdown took %v", round, d)
		}
		<-done
		for _, c := range conns {
			c.Close()
		}
		tg.CloseIdle()
		if o := p.OpenConns(); o > 0 {
			t.Errorf("round %d: %d open conns after shutdown (fasthttp %d, lane %d)", round, o, p.srv.GetOpenConnectionsCount(), p.lane.conns.Load())
		}
	}
}

func bufioReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }

// closeWait counts sockets on addr's port the gateway has not closed
// after the client did (a leaked descriptor, or one nobody reads).
func closeWait(t *testing.T, addr string) int {
	_, port, _ := net.SplitHostPort(addr)
	var pn int
	fmt.Sscan(port, &pn)
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Skip(err)
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 3 && strings.HasSuffix(f[1], fmt.Sprintf(":%04X", pn)) && f[3] == "08" {
			n++
		}
	}
	return n
}

type firstSel struct{}

func (firstSel) Select([]balance.Candidate, string) int { return 0 }

// A streamed PUT (Content-Length over streamThreshold) on a returnable
// connection: the first backend drops the connection after a byte of the
// body, the retry on the second succeeds (every backend ready by then).
// giveBack's IsBodyStream guard does not fire (the client's
// writeBodyStream closed and nil'ed the stream) and fasthttp does not
// drain the rest of a hijacked request's body: the client's body bytes
// that follow are parsed by the lane as requests and answered.
func TestReviewRetryLeavesBodyForLane(t *testing.T) {
	cut := make(chan struct{}, 4)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() { // b: answers GETs; cuts a PUT after a byte of its body (RST)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				br := bufio.NewReader(conn)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					if req.Method == "PUT" {
						io.CopyN(io.Discard, req.Body, 1)
						conn.(*net.TCPConn).SetLinger(0)
						conn.Close()
						cut <- struct{}{}
						return
					}
					io.Copy(io.Discard, req.Body)
					msg := req.Method + " " + req.URL.Path
					fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(msg), msg)
				}
			}()
		}
	}()
	aPut := make(chan struct{}, 4)
	a, launched, gate := gatedColdTargetHook(t, func(r *http.Request) {
		if r.Method == "PUT" {
			aPut <- struct{}{}
		}
	})
	b := fixed(t, "b", ln.Addr().String())
	p := New(Options{ID: "gw"}, &Pool{Targets: []*Target{b, a}, Selector: firstSel{}})
	gw := serve(t, p)
	go func() { // a starts (gated): not every backend is ready
		if a.Backend.Acquire(context.Background()) == nil {
			a.Backend.Release()
		}
	}()
	<-launched
	c, br := dialClient(t, gw)
	c.SetDeadline(time.Now().Add(20 * time.Second))
	exchange(t, c, br, get1("/1"), "/1") // lane: not all ready -> general path (returnable); b answers
	t.Logf("states: b %v a %v", b.Backend.State(), a.Backend.State())
	io.WriteString(c, fmt.Sprintf("PUT /2 HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", 5<<20)+strings.Repeat("x", 20000))
	go func() { <-cut; close(gate) }() // b has failed the PUT; a may start now
	// More of the body, a piece at a time, until the retry reached a: the
	// pieces the gateway had not read by then stay unread. Each piece ends
	// in an empty line, so a parser that takes it for a request head sees
	// one (a bad one).
	type answer struct {
		resp *http.Response
		body []byte
		err  error
	}
	answered := make(chan answer, 1)
	go func() {
		resp, err := http.ReadResponse(br, nil)
		var a answer
		a.resp, a.err = resp, err
		if err == nil {
			a.body, _ = io.ReadAll(resp.Body)
		}
		answered <- a
	}()
	sent := 0
	var ans answer
pieces:
	for range 200 {
		io.WriteString(c, strings.Repeat("x", 1020)+"\r\n\r\n")
		sent++
		select {
		case <-aPut:
			ans = <-answered
			break pieces
		case ans = <-answered:
			break pieces
		case <-time.After(100 * time.Millisecond):
		}
	}
	if ans.err != nil {
		t.Fatal(ans.err)
	}
	t.Logf("PUT /2: %d %q; %d body pieces sent", ans.resp.StatusCode, ans.body, sent)
	// The body streamed from the client and b took part of it: no retry
	// can send it whole (a retry on a sent the part left: a 200 for a
	// truncated upload).
	if ans.resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("PUT /2 after b failed mid-body: %d %q, want 502", ans.resp.StatusCode, ans.body)
	}
	// The client goes on with its body (5 MiB declared, ~21 KiB sent):
	// these bytes are body, not a request.
	io.WriteString(c, get1("/evil"))
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if resp, err := http.ReadResponse(br, nil); err == nil {
		rb, _ := io.ReadAll(resp.Body)
		t.Fatalf("bytes of the PUT body answered as a request: %d %q (lane served %d)", resp.StatusCode, rb, laneServed(p))
	} else {
		t.Logf("after the PUT: %v", err)
	}
}
