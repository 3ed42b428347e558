package gateway

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
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
// socket. The gateway opens it at the backend's first start and keeps it
// until the backend is closed, so connections made while the process
// starts (or restarts) wait in the backlog instead of being refused.
type activationSocket struct {
	addr string
	name string

	mu     sync.Mutex
	f      *os.File // the listening socket; the process gets it as fd 3
	closed bool
}

// file returns the socket, opening it on first use.
func (s *activationSocket) file(ctx context.Context) (*os.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("socket activation %s: closed", s.addr)
	}
	if s.f != nil {
		return s.f, nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.addr)
	if err != nil {
		return nil, fmt.Errorf("socket activation: listen %s: %w", s.addr, err)
	}
	// File dups the descriptor; the socket stays open (and listening)
	// through the dup once the net.Listener's own descriptor is closed.
	// The gateway never accepts on it.
	f, err := ln.(*net.TCPListener).File()
	ln.Close()
	if err != nil {
		return nil, fmt.Errorf("socket activation: %s: %w", s.addr, err)
	}
	s.f = f
	return f, nil
}

// reset closes the socket so that the next file call opens a new one.
func (s *activationSocket) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
}

// setName changes the name the next process gets in LISTEN_FDNAMES.
func (s *activationSocket) setName(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.name = name
}

// fdName is the name for LISTEN_FDNAMES.
func (s *activationSocket) fdName() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.name
}

// close releases the socket (after the backend's process is gone).
func (s *activationSocket) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.f != nil {
		s.f.Close()
		s.f = nil
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
