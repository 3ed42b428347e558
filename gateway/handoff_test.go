package gateway

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warren-mesh/warren/gateway/backend"
	"github.com/warren-mesh/warren/internal/testutil"
)

// handoffRoute is a tcp route with handoff whose program is the test
// backend's echo (-tcp: its address is ignored when it gets fd 3).
func handoffRoute(pub, extra string, args ...string) string {
	return fmt.Sprintf(`%q: {"name": "h", "protocol": "tcp", "handoff": true, %s "backends": [{"name": "b", "cmd": %q, "args": %s}]}`,
		pub, extra, backendBin, jsonList(append([]string{"-tcp", "127.0.0.1:1"}, args...)...))
}

// echo sends msg on a new connection to addr, half-closes and returns the answer.
func echo(t testing.TB, addr, msg string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(c, msg)
	c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("echo through %s: %v", addr, err)
	}
	return string(b)
}

// activatedOn waits until the backend's log says it accepts on addr itself.
func activatedOn(t *testing.T, e *Engine, ref string, pid int, addr string) {
	t.Helper()
	want := fmt.Sprintf("pid %d activated with socket %q on %s", pid, "h", addr)
	testutil.Eventually(t, 10*time.Second, func() error {
		logs, _ := e.Logs(ref)
		for _, l := range logs {
			if strings.Contains(l, want) {
				return nil
			}
		}
		return fmt.Errorf("no %q in logs %q", want, logs)
	})
}

func waitState(t *testing.T, e *Engine, want backend.State) backend.Stats {
	t.Helper()
	var st backend.Stats
	testutil.Eventually(t, 10*time.Second, func() error {
		st = e.Status().Routes[0].Backends[0]
		if st.State != want {
			return fmt.Errorf("state %s, want %s", st.State, want)
		}
		return nil
	})
	return st
}

// TestHandoffColdStartIdleAndRestart: the program starts on the first
// connection and accepts on the route's own port (the gateway passes its
// socket); an open connection keeps it running past idle_timeout; once the
// connections are gone it is stopped; the next connection starts it again;
// shutdown frees the port.
func TestHandoffColdStartIdleAndRestart(t *testing.T) {
	leakCheck(t)
	pub := port(t)
	addr := "127.0.0.1:" + pub
	e := startEngine(t, mustConfig(t, `{"routes": {`+handoffRoute(pub, `"idle_timeout": "400ms",`)+`}}`), Options{})
	if st := e.Status().Routes[0]; st.Backends[0].State != backend.Dormant || !st.Listening {
		t.Fatalf("before the first connection: %+v", st)
	}
	if got := echo(t, addr, "first"); got != "first" {
		t.Fatalf("echo %q", got)
	}
	st := waitState(t, e, backend.Ready)
	first := st.PID
	if st.Starts != 1 {
		t.Fatalf("starts %d", st.Starts)
	}
	activatedOn(t, e, pub+"/b", first, addr)

	// An open connection (idle, in the program's hands) outlives idle_timeout.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, func() error {
		if n := e.Status().Routes[0].Conns; n != 1 {
			return fmt.Errorf("route counts %d connections, want 1", n)
		}
		return nil
	})
	time.Sleep(1500 * time.Millisecond) // idle_timeout x 3.75
	if st := e.Status().Routes[0].Backends[0]; st.State != backend.Ready || st.PID != first {
		t.Fatalf("stopped under an open connection: %+v", st)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "still here")
	c.(*net.TCPConn).CloseWrite()
	if b, err := io.ReadAll(c); err != nil || string(b) != "still here" {
		t.Fatalf("held connection: %q %v", b, err)
	}
	c.Close()

	// No connection: stopped after idle_timeout.
	waitState(t, e, backend.Dormant)
	testutil.Eventually(t, 10*time.Second, gone(first))
	if got := echo(t, addr, "again"); got != "again" {
		t.Fatalf("echo after the idle stop %q", got)
	}
	st = waitState(t, e, backend.Ready)
	if st.PID == first || st.Starts != 2 {
		t.Fatalf("after the idle stop: %+v (first pid %d)", st, first)
	}
	second := st.PID

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, gone(second))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("port still held after shutdown: %v", err)
	}
	ln.Close()
}

// TestHandoffConcurrentFirstConnections: connections made while the
// program starts (it waits 300ms before accepting) wait in the backlog;
// all are served, by one process.
func TestHandoffConcurrentFirstConnections(t *testing.T) {
	leakCheck(t)
	pub := port(t)
	e := startEngine(t, mustConfig(t, `{"routes": {`+handoffRoute(pub, "", "-delay", "300ms")+`}}`), Options{})
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := "conn " + strconv.Itoa(i)
			if got := echo(t, "127.0.0.1:"+pub, msg); got != msg {
				t.Errorf("echo %q, want %q", got, msg)
			}
		}()
	}
	wg.Wait()
	if st := e.Status().Routes[0].Backends[0]; st.Starts != 1 || st.State != backend.Ready {
		t.Fatalf("status %+v", st)
	}
}

// TestHandoffStartFailure: a program that exits at once leaves no client
// hanging: the waiting connections are closed, promptly, and no process is
// left.
func TestHandoffStartFailure(t *testing.T) {
	leakCheck(t)
	pub := port(t)
	e := startEngine(t, mustConfig(t, `{"routes": {`+handoffRoute(pub, "", "-mode", "exit")+`}}`), Options{})
	for i := range 2 { // the first fails the start; the second meets the backoff
		start := time.Now()
		c, err := net.Dial("tcp", "127.0.0.1:"+pub)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		b, err := io.ReadAll(c)
		c.Close()
		if err != nil || len(b) != 0 {
			t.Fatalf("connection %d: %q %v (want it closed)", i, b, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("connection %d closed after %v", i, d)
		}
	}
	st := e.Status().Routes[0].Backends[0]
	if st.State != backend.Failed {
		t.Fatalf("status %+v", st)
	}
	testutil.Eventually(t, 5*time.Second, gone(st.LastPID))
}

// TestHandoffReload: a new program for the route keeps its socket open
// (connections made during the reload are served), and turning handoff off
// replaces the route with a proxy.
func TestHandoffReload(t *testing.T) {
	leakCheck(t)
	pub := port(t)
	addr := "127.0.0.1:" + pub
	// -drain: the old program finishes what it accepted when told to stop
	// (it shares the socket with its successor until it exits).
	e := startEngine(t, mustConfig(t, `{"routes": {`+handoffRoute(pub, "", "-drain")+`}}`), Options{})
	if got := echo(t, addr, "one"); got != "one" {
		t.Fatalf("echo %q", got)
	}
	first := waitState(t, e, backend.Ready).PID

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	served := 0
	go func() { // connections during the reload: none refused
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if got := echo(t, addr, "during"); got != "during" {
				t.Errorf("during the reload: %q", got)
				return
			}
			served++
		}
	}()
	if err := e.Reload(mustConfig(t, `{"routes": {`+handoffRoute(pub, "", "-drain", "-name", "v2")+`}}`)); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, gone(first))
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	if served == 0 {
		t.Fatal("no connection made during the reload")
	}
	st := waitState(t, e, backend.Ready)
	if st.PID == first {
		t.Fatalf("still the old program: %+v", st)
	}
	activatedOn(t, e, pub+"/b", st.PID, addr)

	// Handoff off: a proxying tcp route on the same port.
	in := port(t)
	doc := fmt.Sprintf(`{"routes": {%q: {"name": "p", "protocol": "tcp", "backends": [{"cmd": %q, "args": %s, "internal_port": %q}]}}}`,
		pub, backendBin, jsonList("-tcp", "127.0.0.1:"+in), in)
	if err := e.Reload(mustConfig(t, doc)); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, gone(st.PID))
	if got := echo(t, addr, "proxied"); got != "proxied" {
		t.Fatalf("echo %q", got)
	}
	if rs := e.Status().Routes[0]; rs.Requests != 1 {
		t.Fatalf("the proxy did not carry the connection: %+v", rs)
	}
}

// TestCountConns: the kernel's socket table, read as the idle stop reads
// it: connections to ip:port count whether accepted or still queued, on
// that address only, and stop counting once closed.
func TestCountConns(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := ln.Addr().(*net.TCPAddr).Port
	lo := net.ParseIP("127.0.0.1")
	count := func(ip net.IP) int {
		n, err := countConns(ip, p)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(lo); n != 0 {
		t.Fatalf("no connection yet: %d", n)
	}
	var clients []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	accepted, err := ln.Accept() // one accepted, two still in the backlog
	if err != nil {
		t.Fatal(err)
	}
	if n := count(lo); n != 3 {
		t.Fatalf("3 connections, counted %d", n)
	}
	if n := count(net.IPv4zero); n != 3 {
		t.Fatalf("any address: counted %d", n)
	}
	if n := count(net.ParseIP("127.0.0.2")); n != 0 {
		t.Fatalf("another address: counted %d", n)
	}
	for _, c := range clients {
		c.Close()
	}
	accepted.Close()
	ln.Close() // the queued ones go with the listener
	testutil.Eventually(t, 5*time.Second, func() error {
		if n := count(lo); n != 0 {
			return fmt.Errorf("%d still counted after close", n)
		}
		return nil
	})
}

func TestProcAddr(t *testing.T) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the cases below are written as a little-endian machine prints them")
	}
	if got := procAddr("0100007F"); !got.Equal(net.ParseIP("127.0.0.1")) {
		t.Fatalf("ipv4: %v", got)
	}
	// ::ffff:127.0.0.1 as /proc/net/tcp6 prints it on a little-endian machine.
	if got := procAddr("0000000000000000FFFF00000100007F"); !got.Equal(net.ParseIP("127.0.0.1")) {
		t.Fatalf("v4-mapped: %v", got)
	}
	if got := procAddr("zz"); got != nil {
		t.Fatalf("garbage: %v", got)
	}
}
