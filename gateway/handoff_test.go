package gateway

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

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

// activatedOn waits until the backend's log says it accepts on addr
// itself, on a socket named name (LISTEN_FDNAMES).
func activatedOn(t *testing.T, e *Engine, ref string, pid int, name, addr string) {
	t.Helper()
	want := fmt.Sprintf("pid %d activated with socket %q on %s", pid, name, addr)
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
	activatedOn(t, e, pub+"/b", first, "h", addr)

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

	shutdown(t, e)
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
	if got := echo(t, addr, "after"); got != "after" {
		t.Fatalf("echo %q", got)
	}
	st := waitState(t, e, backend.Ready)
	if st.PID == first {
		t.Fatalf("still the old program: %+v", st)
	}
	activatedOn(t, e, pub+"/b", st.PID, "h", addr)

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
// it: accepted connections to ip:port count, on that address only; queued
// ones do not (pending counts them), nor do those the program has closed
// while the client has not (orphaned FIN_WAIT2).
func TestCountConns(t *testing.T) {
	for name, f := range map[string]func(net.IP, int) (int, error){"sock_diag": countConnsDiag, "proc": countConnsProc} {
		t.Run(name, func(t *testing.T) { testCountConns(t, f) })
	}
}

func testCountConns(t *testing.T, countConns func(net.IP, int) (int, error)) {
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
	var accepted []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close() // only at the end: the clients never close first
	}
	a, err := ln.Accept() // one accepted, two still in the backlog
	if err != nil {
		t.Fatal(err)
	}
	accepted = append(accepted, a)
	if n := count(lo); n != 1 {
		t.Fatalf("1 accepted (2 queued): counted %d", n)
	}
	for range 2 {
		a, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		accepted = append(accepted, a)
	}
	if n := count(lo); n != 3 {
		t.Fatalf("3 accepted: counted %d", n)
	}
	if n := count(net.IPv4zero); n != 3 {
		t.Fatalf("any address: counted %d", n)
	}
	if n := count(net.ParseIP("127.0.0.2")); n != 0 {
		t.Fatalf("another address: counted %d", n)
	}
	// The program closes; the clients do not: FIN_WAIT2, held by no one.
	for _, a := range accepted {
		a.Close()
	}
	testutil.Eventually(t, 5*time.Second, func() error {
		if n := count(lo); n != 0 {
			return fmt.Errorf("%d still counted after the program closed them", n)
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

// tryEcho is echo without t.Fatal: the answer or the error.
func tryEcho(addr, msg string) (string, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, msg)
	c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	return string(b), err
}

// TestHandoffReloadWhileDormant: a reload while no program runs (the
// watcher waiting on the socket with the old backend in hand) serves the
// next connection with the new program; it is not refused on the retired one.
func TestHandoffReloadWhileDormant(t *testing.T) {
	leakCheck(t)
	pub := port(t)
	addr := "127.0.0.1:" + pub
	e := startEngine(t, mustConfig(t, `{"routes": {`+handoffRoute(pub, `"idle_timeout": "300ms",`)+`}}`), Options{})
	for i := range 4 {
		waitState(t, e, backend.Dormant)
		time.Sleep(handoffPoll + 50*time.Millisecond) // the watcher is in its wait
		if err := e.Reload(mustConfig(t, `{"routes": {`+handoffRoute(pub, `"idle_timeout": "300ms",`, "-name", fmt.Sprint("v", i))+`}}`)); err != nil {
			t.Fatal(err)
		}
		if got, err := tryEcho(addr, "hello"); got != "hello" {
			t.Fatalf("round %d: the first connection after the reload: %q %v", i, got, err)
		}
	}
}

// TestHandoffRenameKeepsPort: renaming the route (which renames the socket
// the next program gets) keeps the socket: no connection is refused.
func TestHandoffRenameKeepsPort(t *testing.T) {
	leakCheck(t)
	pub := port(t)
	addr := "127.0.0.1:" + pub
	route := func(name string) string {
		return fmt.Sprintf(`{"routes": {%q: {"name": %q, "protocol": "tcp", "handoff": true, "backends": [{"name": "b", "cmd": %q, "args": %s}]}}}`,
			pub, name, backendBin, jsonList("-tcp", "127.0.0.1:1", "-drain"))
	}
	e := startEngine(t, mustConfig(t, route("h")), Options{})
	if got, err := tryEcho(addr, "one"); got != "one" {
		t.Fatalf("echo %q %v", got, err)
	}
	stop := make(chan struct{})
	failed := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if got, err := tryEcho(addr, "during"); got != "during" {
				failed <- fmt.Errorf("%q %v", got, err)
				return
			}
		}
	})
	if err := e.Reload(mustConfig(t, route("renamed"))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	select {
	case err := <-failed:
		t.Fatalf("a connection failed during the rename: %v", err)
	default:
	}
	// The next program is told the new name.
	st := e.Status().Routes[0]
	if err := e.Kill(pub + "/b"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, gone(st.Backends[0].PID))
	if got := echo(t, addr, "again"); got != "again" {
		t.Fatalf("echo %q", got)
	}
	pid := waitState(t, e, backend.Ready).PID
	activatedOn(t, e, pub+"/b", pid, "renamed", addr)
}

// TestHandoffReloadStopsOldProgram: a reload that replaces the program
// stops the old one at once (SIGTERM, as systemd does); a program that
// drains on SIGTERM finishes the connection it has open while the new
// program takes the new ones.
func TestHandoffReloadStopsOldProgram(t *testing.T) {
	leakCheck(t)
	pub := port(t)
	addr := "127.0.0.1:" + pub
	e := startEngine(t, mustConfig(t, `{"routes": {`+handoffRoute(pub, "", "-drain")+`}}`), Options{})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 1)
	io.WriteString(c, "x")
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	old := waitState(t, e, backend.Ready).PID
	reloaded := time.Now()
	if err := e.Reload(mustConfig(t, `{"routes": {`+handoffRoute(pub, "", "-drain", "-name", "v2")+`}}`)); err != nil {
		t.Fatal(err)
	}
	// New connections go to the new program (once the old one, told to
	// stop, no longer accepts), while the old one still serves its own.
	testutil.Eventually(t, 20*time.Second, func() error {
		if got, err := tryEcho(addr, "new"); got != "new" {
			// What the route looked like, for a failure that is not reproduced yet
			// (once in CI under parallel load: a connection nobody accepted).
			logs, _ := e.Logs(pub + "/b")
			return fmt.Errorf("echo %q %v; route %+v; logs %q", got, err, e.Status().Routes[0], logs)
		}
		if st := e.Status().Routes[0].Backends[0]; st.State != backend.Ready || st.PID == old {
			return fmt.Errorf("no new program yet: %+v", st)
		}
		return nil
	})
	io.WriteString(c, "y")
	if _, err := io.ReadFull(c, buf); err != nil || buf[0] != 'y' {
		// Seen in CI about once in ten runs, not reproduced alone (40 runs):
		// the first new connection waited ~10 s (tryEcho's deadline) and
		// the old program's own 10 s drain ended meanwhile. What the route
		// looked like then, for the next look.
		logs, _ := e.Logs(pub + "/b")
		t.Fatalf("the draining program dropped its connection: %q %v (%v since the reload; route %+v; logs %q)",
			buf, err, time.Since(reloaded), e.Status().Routes[0], logs)
	}
	c.Close()
	testutil.Eventually(t, 10*time.Second, gone(old))
}

// drainingProc is a program that, told to stop, drains until the test
// lets it go (the test backend's -drain with a connection open).
type drainingProc struct {
	done    chan struct{}
	release <-chan struct{}
}

func (p *drainingProc) PID() int              { return 1 }
func (p *drainingProc) Done() <-chan struct{} { return p.done }
func (p *drainingProc) Stop(ctx context.Context) error {
	select {
	case <-p.release:
	case <-ctx.Done():
	}
	close(p.done)
	return nil
}

// TestHandoffWatcherLeavesRetiredBackend: the watcher looked at the
// route's backend just before a reload swapped it out (a look takes
// seconds on a busy machine: the socket table is long) and then wants to
// hold it for an open connection. That backend is being closed, its
// program draining; the watcher must go on at once to the new backend
// (which it alone starts), not wait for the old program to exit. It
// waited: under CI load, the first connection after a reload waited the
// old program's whole drain (TestHandoffReloadStopsOldProgram, ~10s).
func TestHandoffWatcherLeavesRetiredBackend(t *testing.T) {
	leakCheck(t)
	release := make(chan struct{})
	var once sync.Once
	letGo := func() { once.Do(func() { close(release) }) }
	defer letGo()
	newB := func(name string) *backend.Backend {
		b, err := backend.New(backend.Config{Name: name, Addr: "127.0.0.1:1",
			// As long as the route's: a drain is not cut short here.
			StopTimeout: time.Hour,
			Check:       func(context.Context) error { return nil },
			Launch: func(context.Context, io.Writer) (backend.Process, error) {
				return &drainingProc{done: make(chan struct{}), release: release}, nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	old, cur := newB("old"), newB("new")
	defer cur.Close(context.Background())
	h := &handoffState{wake: make(chan struct{}, 1)}
	h.backend.Store(old)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := old.Acquire(ctx); err != nil { // its program runs
		t.Fatal(err)
	}
	old.Release()

	// The reload: the new backend is the route's, the old one is closed
	// (its program told to stop; it drains).
	h.setBackend(cur)
	closed := make(chan error, 1)
	go func() { closed <- old.Close(context.Background()) }()
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	if err := old.WaitState(wctx, backend.Draining); err != nil {
		t.Fatal(err)
	}

	w := &handoffWatch{h: h, ctx: ctx}
	done := make(chan struct{})
	go func() { w.acquire(old); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second): // only the failure waits
		letGo()
		<-done
		t.Fatal("the watcher waited for the retired program to exit")
	}
	if w.held != nil {
		t.Fatalf("the watcher holds the retired backend %s", w.held.Name())
	}
	letGo()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
}

// TestHandoffSocketShutDownByProgram: a program that shuts the shared
// socket down (some servers do, to wake their accept threads) leaves it
// not listening; the gateway opens a new one instead of spinning on the
// hang-up poll reports, and the next program serves.
func TestHandoffSocketShutDownByProgram(t *testing.T) {
	leakCheck(t)
	py := needPython(t)
	pub := port(t)
	addr := "127.0.0.1:" + pub
	doc := `{"routes": {` + scriptRoute(pub, py, "", "import socket,time; s=socket.socket(fileno=3); s.shutdown(socket.SHUT_RDWR); time.sleep(0.2)") + `}}`
	e := startEngine(t, mustConfig(t, doc), Options{})
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
	}
	testutil.Eventually(t, 10*time.Second, func() error {
		if st := e.Status().Routes[0].Backends[0]; st.Starts == 0 || st.State == backend.Ready || st.State == backend.Starting {
			return fmt.Errorf("state %+v", st)
		}
		return nil
	})
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	time.Sleep(time.Second)
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	used := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	if used > 300*time.Millisecond {
		t.Fatalf("the watcher burns CPU: %v in 1s", used)
	}
	// The port takes connections again (a new socket): the next program starts.
	testutil.Eventually(t, 10*time.Second, func() error {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		c.Close()
		return nil
	})
	testutil.Eventually(t, 10*time.Second, func() error {
		if st := e.Status().Routes[0].Backends[0]; st.Starts < 2 {
			return fmt.Errorf("no new start: %+v", st)
		}
		return nil
	})
}

// TestHandoffRefuseNeverBlocks: refuse closes what waits and returns at
// once on an empty backlog, although the socket is in blocking mode (as
// programs get it), and leaves it blocking.
func TestHandoffRefuseNeverBlocks(t *testing.T) {
	h, err := newHandoff("127.0.0.1:"+port(t), "h")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer h.close()
	var cs []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", h.sock.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cs = append(cs, c)
	}
	done := make(chan int, 1)
	go func() { done <- h.refuse() }()
	select {
	case n := <-done:
		if n != 3 {
			t.Fatalf("refused %d, want 3", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("refuse blocked")
	}
	for _, c := range cs {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if b, err := io.ReadAll(c); len(b) != 0 || (err != nil && !strings.Contains(err.Error(), "reset")) {
			t.Fatalf("a refused client read %q %v", b, err)
		}
	}
	fl, err := unix.FcntlInt(uintptr(h.sock.fd), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_NONBLOCK != 0 {
		t.Fatalf("flags %#x %v: want the socket blocking again", fl, err)
	}
}

// TestHandoffRestartGetsLiveSocket: a program shuts the shared socket down
// and exits; the restart policy starts the next one at once, and that one
// gets a new, listening socket (not the dead one).
func TestHandoffRestartGetsLiveSocket(t *testing.T) {
	leakCheck(t)
	py := needPython(t)
	pub := port(t)
	addr := "127.0.0.1:" + pub
	marker := filepath.Join(t.TempDir(), "ran")
	// The first run shuts the socket down and exits after 1.2s (a run, not
	// a failed start); the second is the echo backend.
	script := `import os,sys,socket,time
m=sys.argv[1]
if os.path.exists(m):
    os.execv(sys.argv[2], [sys.argv[2], "-tcp", "127.0.0.1:1"])
open(m,"w").close()
s=socket.socket(fileno=3); s.shutdown(socket.SHUT_RDWR); time.sleep(1.2)`
	doc := `{"routes": {` + scriptRoute(pub, py, `"restart": {"policy": "always"},`, script, marker, backendBin) + `}}`
	e := startEngine(t, mustConfig(t, doc), Options{})
	// Both waits include starting python (about 0.5s of CPU here: its site
	// imports), the second one twice over (python, then the echo backend
	// it execs). On a loaded 2-core machine that took over 5s of wall time
	// per start, so 10s was not enough: allow 30s.
	testutil.Eventually(t, 30*time.Second, func() error {
		if st := e.Status().Routes[0].Backends[0]; st.Starts < 2 {
			return fmt.Errorf("no restart yet: %+v", st)
		}
		return nil
	})
	testutil.Eventually(t, 30*time.Second, func() error {
		if got, err := tryEcho(addr, "hi"); got != "hi" {
			return fmt.Errorf("echo %q %v; status %+v", got, err, e.Status().Routes[0].Backends[0])
		}
		return nil
	})
}

// TestHandoffRetiredProgramReleasesPort: a program swapped out by a reload
// takes its time to exit (2s after SIGTERM) and holds the socket meanwhile;
// a following reload that needs a new listener on the port (handoff off)
// waits for it instead of failing on a port in use.
func TestHandoffRetiredProgramReleasesPort(t *testing.T) {
	leakCheck(t)
	py := needPython(t)
	pub := port(t)
	addr := "127.0.0.1:" + pub
	script := fd3Server(pyEcho, "time.sleep(2); sys.exit(0)")
	route := func(v string) string {
		return `{"routes": {` + scriptRoute(pub, py, "", script, v) + `}}`
	}
	e := startEngine(t, mustConfig(t, route("v1")), Options{})
	if got, err := tryEcho(addr, "one"); got != "one" {
		t.Fatalf("echo %q %v", got, err)
	}
	if err := e.Reload(mustConfig(t, route("v2"))); err != nil { // v1 retired: SIGTERM, exits 2s later
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	in := port(t)
	doc := fmt.Sprintf(`{"routes": {%q: {"name": "p", "protocol": "tcp", "backends": [{"cmd": %q, "args": %s, "internal_port": %q}]}}}`,
		pub, backendBin, jsonList("-tcp", "127.0.0.1:"+in), in)
	if err := e.Reload(mustConfig(t, doc)); err != nil {
		t.Fatalf("handoff off after a swap: %v (routes now %d)", err, len(e.Status().Routes))
	}
	if got := echo(t, addr, "proxied"); got != "proxied" {
		t.Fatalf("echo %q", got)
	}
}

// TestHandoffDoubleKill: a second kill while the program is stopping does
// not carry over to (and kill) the next program.
func TestHandoffDoubleKill(t *testing.T) {
	leakCheck(t)
	pub := port(t)
	addr := "127.0.0.1:" + pub
	e := startEngine(t, mustConfig(t, `{"routes": {`+handoffRoute(pub, "", "-drain")+`}}`), Options{})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(c, "x")
	buf := make([]byte, 1)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	first := waitState(t, e, backend.Ready).PID
	if err := e.Kill(pub + "/b"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the program drains its connection
	e.Kill(pub + "/b")                 // still stopping: may or may not report an error
	c.Close()
	testutil.Eventually(t, 10*time.Second, gone(first))
	waitState(t, e, backend.Dormant)
	if got := echo(t, addr, "again"); got != "again" {
		t.Fatalf("echo %q", got)
	}
	time.Sleep(500 * time.Millisecond)
	if st := e.Status().Routes[0].Backends[0]; st.Starts != 2 || st.State != backend.Ready {
		t.Fatalf("the program started after the kills was killed too: %+v", st)
	}
}

// TestHandoffReopenRetried: a program shuts the shared socket down and
// squats on the port with a socket of its own until it exits; the gateway's
// attempts to open a new socket fail meanwhile and are retried, so the
// port comes back once the program is gone.
func TestHandoffReopenRetried(t *testing.T) {
	leakCheck(t)
	py := needPython(t)
	pub := port(t)
	addr := "127.0.0.1:" + pub
	script := `import socket,time
s=socket.socket(fileno=3); p=s.getsockname()[1]; s.shutdown(socket.SHUT_RDWR)
q=socket.socket(); q.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
q.bind(("127.0.0.1", p)); q.listen(); time.sleep(1.5)`
	doc := `{"routes": {` + scriptRoute(pub, py, "", script) + `}}`
	e := startEngine(t, mustConfig(t, doc), Options{})
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
	}
	testutil.Eventually(t, 10*time.Second, func() error {
		if st := e.Status().Routes[0].Backends[0]; st.Starts == 0 || st.State == backend.Ready || st.State == backend.Starting {
			return fmt.Errorf("state %+v", st)
		}
		return nil
	})
	// The program is gone: the gateway listens again, and a connection
	// starts the next program.
	testutil.Eventually(t, 10*time.Second, func() error {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		c.Close()
		if st := e.Status().Routes[0].Backends[0]; st.Starts < 2 {
			return fmt.Errorf("no new start: %+v", st)
		}
		return nil
	})
}

// TestHandoffRetiredProgramShutsSocketDown: the program a reload swapped
// out shuts the shared socket down on SIGTERM, while its successor already
// runs on that socket: the gateway opens a new socket and restarts the
// successor on it, so the route serves again.
func TestHandoffRetiredProgramShutsSocketDown(t *testing.T) {
	leakCheck(t)
	py := needPython(t)
	pub := port(t)
	addr := "127.0.0.1:" + pub
	script := fd3Server(pyEcho, "time.sleep(1); s.shutdown(socket.SHUT_RDWR); sys.exit(0)")
	v1 := `{"routes": {` + scriptRoute(pub, py, "", script) + `}}`
	e := startEngine(t, mustConfig(t, v1), Options{})
	if got, err := tryEcho(addr, "one"); got != "one" {
		t.Fatalf("echo %q %v", got, err)
	}
	if err := e.Reload(mustConfig(t, `{"routes": {`+handoffRoute(pub, "")+`}}`)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // v1 sleeps in its handler: this connection starts v2
	if got, err := tryEcho(addr, "two"); got != "two" {
		t.Fatalf("echo %q %v", got, err)
	}
	time.Sleep(2 * time.Second) // v1 has shut the socket down and exited
	testutil.Eventually(t, 10*time.Second, func() error {
		if got, err := tryEcho(addr, "three"); got != "three" {
			return fmt.Errorf("echo %q %v; status %+v", got, err, e.Status().Routes[0].Backends[0])
		}
		return nil
	})
}

// needPython returns python3's path, for programs that do what the test
// backend does not (shut an inherited socket down, exit slowly), or skips.
func needPython(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("needs python3 for a program written for this test")
	}
	return py
}

// scriptRoute is a handoff route whose program is a python script (with
// args after it), with extra route fields.
func scriptRoute(pub, py, extra, script string, args ...string) string {
	return fmt.Sprintf(`%q: {"name": "h", "protocol": "tcp", "handoff": true, %s "backends": [{"name": "b", "cmd": %q, "args": %s}]}`,
		pub, extra, py, jsonList(append([]string{"-c", script}, args...)...))
}

// fd3Server is a python program serving on the socket it inherits as fd 3
// (s): serve runs for each accepted connection c, onTerm on SIGTERM.
func fd3Server(serve, onTerm string) string {
	return "import signal,socket,time,sys,os\ns=socket.socket(fileno=3)\ndef term(*a):\n    " + onTerm +
		"\nsignal.signal(signal.SIGTERM, term)\nwhile True:\n    c,_=s.accept(); " + serve + "; c.close()"
}

// pyEcho is fd3Server's echo of one read.
const pyEcho = "d=c.recv(100); c.sendall(d)"
