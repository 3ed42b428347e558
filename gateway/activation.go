package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// activationWrapper runs the backend's program through /bin/sh so that
// LISTEN_PID can name the program's own pid: Go (like any fork/exec
// without a hook between the two) cannot know the child's pid before exec,
// and libsystemd's sd_listen_fds and go-systemd's activation.Files ignore
// LISTEN_FDS unless LISTEN_PID equals getpid(). The shell exports its own
// pid ($$) and execs the program in place, so the pid stays the same;
// this is what systemd-socket-activate does in its child between fork and
// exec. $0 is the program, "$@" its arguments (no shell parsing of either).
const activationWrapper = `LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"`

// activationSocket is a backend's listening socket under readiness type
// socket (or a hand-off route's public socket). The gateway opens it at the
// backend's first start and keeps it until the backend is closed, so
// connections made while the process starts (or restarts) wait in the
// backlog instead of being refused.
type activationSocket struct {
	addr string

	// mu is held for writing to open, replace or close the socket, and
	// for reading while its descriptor is in use (polled, accepted on,
	// duplicated for a process).
	mu     sync.RWMutex
	name   string
	f      *os.File // the listening socket
	fd     int      // f's descriptor, -1 without one
	opened bool     // open has succeeded once
	closed bool
}

func newActivationSocket(addr, name string) *activationSocket {
	return &activationSocket{addr: addr, name: name, fd: -1}
}

// errNotListening: the socket left the listening state (a program called
// shutdown on it: poll then reports a hang-up at once, forever), or the
// new one could not be opened yet.
var errNotListening = errors.New("the socket no longer listens")

// listening reports whether fd is a listening socket.
func listening(fd int) bool {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	return err != nil || v == 1 // an error: not ours to judge; keep it
}

// open makes sure the socket is open and listening, opening a new one when
// the old one no longer listens: a program may shut a socket it shares
// down (some do, to wake their own accept threads at exit), and the next
// program must not get a dead one.
func (s *activationSocket) open(ctx context.Context) error {
	s.mu.RLock()
	ok := s.f != nil && listening(s.fd)
	s.mu.RUnlock()
	if ok {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("socket activation %s: %w", s.addr, net.ErrClosed)
	}
	if s.f != nil {
		if listening(s.fd) {
			return nil // replaced meanwhile
		}
		s.f.Close()
		s.f, s.fd = nil, -1
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("socket activation: listen %s: %w", s.addr, err)
	}
	// File dups the descriptor; the socket stays open (and listening)
	// through the dup once the net.Listener's own descriptor is closed.
	// The gateway never accepts on it (but to refuse, see handoff.go).
	f, err := ln.(*net.TCPListener).File()
	ln.Close()
	if err != nil {
		return fmt.Errorf("socket activation: %s: %w", s.addr, err)
	}
	// Fd puts the descriptor in blocking mode: systemd passes blocking
	// sockets, and programs written for it expect that.
	s.f, s.fd, s.opened = f, int(f.Fd()), true
	return nil
}

// dead reports whether the socket was open once and no longer listens (a
// program shut it down, or its replacement could not be opened yet).
func (s *activationSocket) dead() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.opened && !s.closed && (s.f == nil || !listening(s.fd))
}

// file returns a duplicate of the socket for a process to inherit (the
// caller closes it once the process has started): the gateway's own copy
// may be replaced or closed meanwhile without pulling it from under exec.
func (s *activationSocket) file(ctx context.Context) (*os.File, error) {
	if err := s.open(ctx); err != nil {
		return nil, err
	}
	var f *os.File
	err := s.withFD(func(fd int) error {
		d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("socket activation %s: %w", s.addr, err)
		}
		f = os.NewFile(uintptr(d), s.name)
		return nil
	})
	return f, err
}

// setName changes the name the next process gets in LISTEN_FDNAMES.
func (s *activationSocket) setName(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.name = name
}

// fdName is the name for LISTEN_FDNAMES.
func (s *activationSocket) fdName() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.name
}

// keepFlags notes whether the socket is non-blocking and returns a
// function that makes it non-blocking again if it was: os/exec's Fd call
// puts the shared socket in blocking mode, and a program still running on
// it (a reload's predecessor, often a Go program that set it non-blocking)
// must keep its mode. It only ever sets O_NONBLOCK back, never clears it:
// on a first start the socket is blocking, and the new program (a Go one
// sets O_NONBLOCK at once) may change it before proc.Start has returned;
// restoring "blocking" then would put a running Go program's listener
// in blocking mode, where its accept waits in the kernel and its Close
// no longer interrupts it.
func (s *activationSocket) keepFlags() func() {
	var fl int
	err := s.withFD(func(fd int) error {
		var err error
		fl, err = unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		return err
	})
	return func() {
		if err != nil || fl&unix.O_NONBLOCK == 0 {
			return
		}
		s.withFD(func(fd int) error {
			cur, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
			if err != nil || cur&unix.O_NONBLOCK != 0 {
				return err
			}
			_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, cur|unix.O_NONBLOCK)
			return err
		})
	}
}

// withFD runs fn with the socket's descriptor while it cannot be closed
// or replaced. Without one it returns net.ErrClosed once closed, else
// errNotListening (a replacement could not be opened yet).
func (s *activationSocket) withFD(fn func(fd int) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.fd < 0 {
		if s.closed {
			return net.ErrClosed
		}
		return fmt.Errorf("%s: %w", s.addr, errNotListening)
	}
	return fn(s.fd)
}

// close releases the socket (after the backend's process is gone).
func (s *activationSocket) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.f != nil {
		s.f.Close()
		s.f, s.fd = nil, -1
	}
}

// activationEnv returns env without inherited LISTEN_* variables (the
// gateway may itself have been socket-activated) plus those for one socket.
func activationEnv(env []string, name string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if strings.HasPrefix(kv, "LISTEN_PID=") || strings.HasPrefix(kv, "LISTEN_FDS=") || strings.HasPrefix(kv, "LISTEN_FDNAMES=") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, "LISTEN_FDS=1", "LISTEN_FDNAMES="+name)
}
