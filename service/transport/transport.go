// Package transport owns the byte-stream transports the service library
// runs its frames over: Unix (OS scope, unix domain sockets) and Mem (an
// in-memory network for tests). LAN (TCP + mutual TLS) and WAN (NATS)
// transports implement the same interface. The Process scope needs no
// transport: values travel through channels.
package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Transport listens on and dials addresses handed out by a registry.
type Transport interface {
	Listen(ctx context.Context, addr string) (net.Listener, error)
	Dial(ctx context.Context, addr string) (net.Conn, error)
}

// Cred is a peer's credentials as the kernel reports them.
type Cred struct {
	UID, GID uint32
	PID      int32
}

// PeerCred returns the credentials of the process at the other end of a
// unix socket (SO_PEERCRED); ok is false for other connections.
func PeerCred(c net.Conn) (Cred, bool) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return Cred{}, false
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return Cred{}, false
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || cerr != nil {
		return Cred{}, false
	}
	return Cred{UID: cred.Uid, GID: cred.Gid, PID: cred.Pid}, true
}

// Unix is the OS scope transport: unix domain stream sockets. Listen makes
// the socket mode 0600 so only its owner (and root) may connect; with
// Group set, 0660 and owned by that group, so its members may too.
type Unix struct {
	Group int // > 0: the gid that may connect besides the owner
}

// Listen implements Transport.
func (u Unix) Listen(ctx context.Context, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "unix", addr)
	if err != nil {
		return nil, fmt.Errorf("transport: listen: %w", err)
	}
	mode := os.FileMode(0o600)
	if u.Group > 0 {
		mode = 0o660
		if err := os.Lchown(addr, -1, u.Group); err != nil {
			ln.Close()
			return nil, fmt.Errorf("transport: listen: %w", err)
		}
	}
	if err := os.Chmod(addr, mode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("transport: listen: %w", err)
	}
	return ln, nil
}

// Dial implements Transport.
func (Unix) Dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", addr)
	if err != nil {
		return nil, fmt.Errorf("transport: dial: %w", err)
	}
	return c, nil
}

// Mem is an in-memory network for tests: Listen registers an address, Dial
// connects to it with a synchronous net.Pipe. The zero value is ready.
type Mem struct {
	mu  sync.Mutex
	lns map[string]*memListener
}

// ErrRefused is returned by Mem.Dial for an address nobody listens on.
var ErrRefused = errors.New("connection refused")

// Listen implements Transport.
func (m *Mem) Listen(_ context.Context, addr string) (net.Listener, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lns == nil {
		m.lns = make(map[string]*memListener)
	}
	if _, ok := m.lns[addr]; ok {
		return nil, fmt.Errorf("transport: listen %s: address in use", addr)
	}
	l := &memListener{m: m, addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
	m.lns[addr] = l
	return l, nil
}

// Dial implements Transport.
func (m *Mem) Dial(ctx context.Context, addr string) (net.Conn, error) {
	m.mu.Lock()
	l := m.lns[addr]
	m.mu.Unlock()
	if l == nil {
		return nil, fmt.Errorf("transport: dial %s: %w", addr, ErrRefused)
	}
	a, b := net.Pipe()
	select {
	case l.ch <- b:
		return a, nil
	case <-l.done:
		a.Close()
		b.Close()
		return nil, fmt.Errorf("transport: dial %s: %w", addr, ErrRefused)
	case <-ctx.Done():
		a.Close()
		b.Close()
		return nil, fmt.Errorf("transport: dial %s: %w", addr, ctx.Err())
	}
}

type memListener struct {
	m    *Mem
	addr string
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.m.mu.Lock()
		if l.m.lns[l.addr] == l {
			delete(l.m.lns, l.addr)
		}
		l.m.mu.Unlock()
	})
	return nil
}

func (l *memListener) Addr() net.Addr { return memAddr(l.addr) }

type memAddr string

func (a memAddr) Network() string { return "mem" }
func (a memAddr) String() string  { return string(a) }
