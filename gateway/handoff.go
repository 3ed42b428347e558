package gateway

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/warren-mesh/warren/gateway/backend"
	"github.com/warren-mesh/warren/internal/logging"
)

// A hand-off route (config "handoff": true, tcp only) gives its public
// listening socket to the backend's program instead of accepting on it:
// the connections never pass through the gateway, so they run at the speed
// of a direct connection (a proxy on loopback doubles the kernel's TCP
// work, which on a small machine halves the throughput at best). The
// gateway keeps what a proxy would give besides the bytes:
//
//   - cold start: while no program runs, the watcher waits (poll, never
//     accept) until a connection is in the socket's backlog, then starts the
//     program, which accepts it; nothing is refused while it starts;
//   - scale to zero: the route's connections are counted from the kernel's
//     socket table (/proc/net/tcp{,6}), sampled; while any is open the
//     backend is held, and its idle stop asks once more (backend.Config.Busy)
//     before it stops the program;
//   - a start that fails: the waiting connections are accepted and closed
//     (as the proxy closes a connection it cannot forward), so clients do
//     not hang; later ones meet the backend's backoff the same way.

// handoffPoll bounds how long the watcher sleeps in poll(2) before it
// looks at the route's context and the backend's state again.
const handoffPoll = 250 * time.Millisecond

// handoffTick is how often the connections of a running program are
// counted: a tenth of idle_timeout, within [50ms, 1s].
func handoffTick(idle time.Duration) time.Duration {
	if idle <= 0 {
		return time.Second // only for the status's connection count
	}
	return min(max(idle/10, 50*time.Millisecond), time.Second)
}

// handoffState is a hand-off route's live part.
type handoffState struct {
	sock    *activationSocket
	fd      int // sock's descriptor, valid until sock is closed (after the watcher ended)
	ip      net.IP
	port    int
	backend atomic.Pointer[backend.Backend] // the current one (a reload may swap it)
}

// newHandoff prepares the socket of a hand-off route (opened by open).
func newHandoff(addr, name string) (*handoffState, error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(ps)
	if err != nil {
		return nil, fmt.Errorf("port %q: %w", ps, err)
	}
	return &handoffState{sock: &activationSocket{addr: addr, name: name}, ip: net.ParseIP(host), port: port, fd: -1}, nil
}

// open listens on the route's address.
func (h *handoffState) open(ctx context.Context) error {
	f, err := h.sock.file(ctx)
	if err != nil {
		return err
	}
	// Fd puts the descriptor in blocking mode, as the program gets it
	// anyway (os/exec calls Fd on ExtraFiles; systemd passes blocking
	// sockets too). The watcher only polls it and accepts after a poll.
	h.fd = int(f.Fd())
	return nil
}

// pending reports whether a connection waits in the backlog, waiting up
// to timeout (0: answer at once).
func (h *handoffState) pending(timeout time.Duration) (bool, error) {
	fds := []unix.PollFd{{Fd: int32(h.fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, int(timeout/time.Millisecond))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("poll %s: %w", h.sock.addr, err)
		}
		return n > 0 && fds[0].Revents&unix.POLLIN != 0, nil
	}
}

// refuse accepts and closes the connections waiting in the backlog (their
// program could not be started).
func (h *handoffState) refuse() int {
	n := 0
	for {
		ok, err := h.pending(0)
		if err != nil || !ok {
			return n
		}
		c, _, err := unix.Accept4(h.fd, unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK)
		if err != nil {
			return n
		}
		unix.Close(c)
		n++
	}
}

// busy counts the route's open connections plus those in the backlog; an
// error counts as busy (stopping a program that serves someone is worse
// than keeping an idle one).
func (h *handoffState) busy() (int, error) {
	n, err := countConns(h.ip, h.port)
	if err != nil {
		return 1, err
	}
	if ok, _ := h.pending(0); ok {
		n++
	}
	return n, nil
}

// serveHandoff is the watcher of a hand-off route: it starts the program
// for the first waiting connection and holds the backend (no idle stop)
// while the route has connections.
func (r *route) serveHandoff() {
	defer close(r.serveDone)
	h := r.hand
	ctx := r.connCtx
	tick := handoffTick(r.cfg.IdleTimeout.Std())
	obs := r.e.observer()
	var held *backend.Backend // the backend this watcher holds (Acquire) while connections are open
	release := func() {
		if held != nil {
			held.Release()
			held = nil
		}
	}
	defer release()
	var last int64
	setConns := func(n int64) {
		if obs != nil && n != last {
			obs.Conn(r.port, int(n-last))
		}
		last = n
		r.active.Store(n)
	}
	defer setConns(0)
	for ctx.Err() == nil {
		b := h.backend.Load()
		if held != nil && held != b {
			release() // swapped by a reload: hold the new one
		}
		switch b.State() {
		case backend.Stopped:
			// Closed (the route is going away) until ctx ends.
			select {
			case <-ctx.Done():
			case <-time.After(handoffPoll):
			}
		case backend.Dormant, backend.Failed:
			release()
			setConns(0)
			ok, err := h.pending(handoffPoll)
			if err != nil {
				r.e.log.Warn("handoff: watching the socket", logging.KeyRoute, r.port, logging.KeyErr, err)
				sleepCtx(ctx, handoffPoll)
				continue
			}
			if !ok || ctx.Err() != nil {
				continue
			}
			if err := b.Acquire(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				n := h.refuse()
				r.e.log.Warn("handoff: program not started; closed the waiting connections",
					logging.KeyRoute, r.port, logging.KeyBackend, b.Name(), "conns", n, logging.KeyErr, err)
				continue
			}
			held = b
		default: // Starting, Ready, Draining: a program runs (or is about to).
			n, err := h.busy()
			if err != nil {
				r.e.log.Debug("handoff: counting connections", logging.KeyRoute, r.port, logging.KeyErr, err)
			}
			setConns(int64(n))
			switch {
			case n > 0 && held == nil:
				if err := b.Acquire(ctx); err == nil {
					held = b
				}
			case n == 0 && held != nil:
				release()
			}
			sleepCtx(ctx, tick)
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// countConns counts the TCP sockets in this network namespace whose local
// end is ip:port (any local address when ip is unspecified) and that are
// neither listening nor finished (TIME_WAIT, CLOSE).
func countConns(ip net.IP, port int) (int, error) {
	n := 0
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(name)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) && strings.HasSuffix(name, "6") {
				continue // no IPv6 in this kernel
			}
			return 0, err
		}
		m, err := countConnsIn(f, ip, port)
		f.Close()
		if err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
		n += m
	}
	return n, nil
}

// TCP states in /proc/net/tcp (include/net/tcp_states.h) that do not hold
// a live connection.
const (
	tcpTimeWait = 0x06
	tcpClose    = 0x07
	tcpListen   = 0x0A
)

func countConnsIn(f *os.File, ip net.IP, port int) (int, error) {
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	n := 0
	for sc.Scan() {
		// "  sl  local_address rem_address   st ..."; local is HEXADDR:HEXPORT.
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 {
			continue
		}
		addr, ps, ok := strings.Cut(fields[1], ":")
		if !ok {
			continue
		}
		p, err := strconv.ParseUint(ps, 16, 16)
		if err != nil || int(p) != port {
			continue
		}
		st, err := strconv.ParseUint(fields[3], 16, 8)
		if err != nil || st == tcpListen || st == tcpTimeWait || st == tcpClose {
			continue
		}
		if ip != nil && !ip.IsUnspecified() && !procAddr(addr).Equal(ip) {
			continue
		}
		n++
	}
	return n, sc.Err()
}

// procAddr decodes an address of /proc/net/tcp{,6}: the kernel prints the
// address's 32-bit words as host-order integers.
func procAddr(s string) net.IP {
	raw, err := hex.DecodeString(s)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return nil
	}
	ip := make(net.IP, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(ip[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	return ip
}
