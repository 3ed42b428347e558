package evloop

import (
	"bytes"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// echo is a handler that writes back what it reads and records events.
type echo struct {
	mu       sync.Mutex
	closed   []error
	connects []error
	writable int
}

func (e *echo) OnRead(c *Conn) {
	if len(c.In()) > 0 {
		c.Write(c.In())
		c.Consume(len(c.In()))
	}
	if c.EOF() {
		c.Close()
	}
}
func (e *echo) OnWritable(c *Conn) { e.mu.Lock(); e.writable++; e.mu.Unlock() }
func (e *echo) OnConnect(c *Conn, err error) {
	e.mu.Lock()
	e.connects = append(e.connects, err)
	e.mu.Unlock()
}
func (e *echo) OnClose(c *Conn, err error) {
	e.mu.Lock()
	e.closed = append(e.closed, err)
	e.mu.Unlock()
}

func startLoop(t *testing.T) *Loop {
	t.Helper()
	l, err := New(50*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	go l.Run()
	t.Cleanup(l.Stop)
	return l
}

// socketPair returns a connected pair: one end for the loop (its fd), one
// as a net.Conn for the test.
func socketPair(t *testing.T) (int, net.Conn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fds[1]), "peer")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return fds[0], c
}

// onLoop runs fn on the loop and waits for it.
func onLoop(t *testing.T, l *Loop, fn func()) {
	t.Helper()
	done := make(chan struct{})
	if err := l.Post(func() { fn(); close(done) }); err != nil {
		t.Fatal(err)
	}
	<-done
}

func TestEchoAndClose(t *testing.T) {
	l := startLoop(t)
	fd, peer := socketPair(t)
	h := &echo{}
	onLoop(t, l, func() {
		if _, err := l.Add(fd, h, nil); err != nil {
			t.Error(err)
		}
	})
	msg := bytes.Repeat([]byte("warren "), 1000)
	go peer.Write(msg)
	got := make([]byte, len(msg))
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(peer, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo: %v", err)
	}
	peer.(*net.UnixConn).CloseWrite()
	if _, err := peer.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after the peer's EOF the loop should close: %v", err)
	}
	var conns int
	onLoop(t, l, func() { conns = l.Conns() })
	h.mu.Lock()
	defer h.mu.Unlock()
	if conns != 0 || len(h.closed) != 1 || h.closed[0] != nil {
		t.Errorf("conns %d, OnClose calls %v; want 0 and one nil", conns, h.closed)
	}
}

// PauseRead leaves bytes in the socket until ResumeRead.
func TestPauseResume(t *testing.T) {
	l := startLoop(t)
	fd, peer := socketPair(t)
	h := &echo{}
	var c *Conn
	onLoop(t, l, func() {
		c, _ = l.Add(fd, h, nil)
		c.PauseRead()
	})
	peer.Write([]byte("ping"))
	peer.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := peer.Read(make([]byte, 4)); err == nil {
		t.Fatalf("paused connection echoed %d bytes", n)
	}
	onLoop(t, l, func() { c.ResumeRead() })
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 4)
	if _, err := io.ReadFull(peer, b); err != nil || string(b) != "ping" {
		t.Fatalf("after resume: %q %v", b, err)
	}
}

// Output the socket does not take is queued, written when it drains,
// and OnWritable follows.
func TestQueuedWrite(t *testing.T) {
	l := startLoop(t)
	fd, peer := socketPair(t)
	h := &echo{}
	big := bytes.Repeat([]byte{7}, 8<<20)
	var queued int
	onLoop(t, l, func() {
		c, _ := l.Add(fd, h, nil)
		c.Write(big)
		queued = c.Queued()
	})
	if queued == 0 {
		t.Fatal("8 MiB went into a socket pair at once; the test needs a queue")
	}
	peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, len(big))
	if _, err := io.ReadFull(peer, got); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("read back: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		h.mu.Lock()
		w := h.writable
		h.mu.Unlock()
		if w > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no OnWritable after the queue drained")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Detach gives the descriptor back with the unread bytes and no callback.
func TestDetach(t *testing.T) {
	l := startLoop(t)
	fd, peer := socketPair(t)
	h := &holder{got: make(chan *Conn, 1)}
	onLoop(t, l, func() { l.Add(fd, h, nil) })
	peer.Write([]byte("GET"))
	c := <-h.got
	var dfd int
	var rest []byte
	var err error
	onLoop(t, l, func() { dfd, rest, err = c.Detach() })
	if err != nil || string(rest) != "GET" || dfd != fd {
		t.Fatalf("Detach = %d %q %v", dfd, rest, err)
	}
	// The descriptor still works outside the loop.
	unix.Write(dfd, []byte("ok"))
	b := make([]byte, 2)
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(peer, b); err != nil || string(b) != "ok" {
		t.Fatalf("write on detached fd: %q %v", b, err)
	}
	unix.Close(dfd)
	if h.closes != 0 {
		t.Error("OnClose after Detach")
	}
}

// holder keeps what it reads and reports the conn once.
type holder struct {
	echo
	got    chan *Conn
	closes int
}

func (h *holder) OnRead(c *Conn) {
	select {
	case h.got <- c:
	default:
	}
}
func (h *holder) OnClose(*Conn, error) { h.closes++ }

// Dial reports a refused connection through OnConnect and OnClose.
func TestDialRefused(t *testing.T) {
	l := startLoop(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there now
	h := &echo{}
	var dialErr error
	onLoop(t, l, func() {
		_, dialErr = l.Dial(&unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}, h, nil)
	})
	deadline := time.Now().Add(5 * time.Second)
	for dialErr == nil {
		h.mu.Lock()
		n, m := len(h.connects), len(h.closed)
		h.mu.Unlock()
		if n == 1 && m == 1 {
			h.mu.Lock()
			dialErr = h.connects[0]
			h.mu.Unlock()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no OnConnect/OnClose for a refused dial")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if dialErr == nil {
		t.Fatal("refused dial reported success")
	}
}

// Stop closes every connection (OnClose runs) and Post fails after it.
func TestStop(t *testing.T) {
	l, err := New(50*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	go l.Run()
	fd, peer := socketPair(t)
	h := &echo{}
	onLoop(t, l, func() { l.Add(fd, h, nil) })
	l.Stop()
	l.Stop() // twice is fine
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := peer.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("peer read after Stop: %v, want EOF", err)
	}
	if len(h.closed) != 1 || h.closed[0] != ErrStopped {
		t.Errorf("OnClose calls %v, want [ErrStopped]", h.closed)
	}
	if err := l.Post(func() {}); err != ErrStopped {
		t.Errorf("Post after Stop: %v", err)
	}
}
