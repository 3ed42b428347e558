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
	ip      net.IP
	port    int
	backend atomic.Pointer[backend.Backend] // the current one (a reload may swap it)
	tick    atomic.Int64                    // handoffTick of the route's idle_timeout (a reload may change it)
	wake    chan struct{}                   // a reload swapped the backend or its process changed: the watcher looks at once
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
	return &handoffState{sock: newActivationSocket(addr, name), ip: net.ParseIP(host), port: port,
		wake: make(chan struct{}, 1)}, nil
}

// open listens on the route's address, or opens a new socket when the
// current one no longer listens (activationSocket.open).
func (h *handoffState) open(ctx context.Context) error { return h.sock.open(ctx) }

// close releases the gateway's copy of the socket.
func (h *handoffState) close() { h.sock.close() }

// pending reports whether a connection waits in the backlog, waiting up
// to timeout (0: answer at once).
func (h *handoffState) pending(timeout time.Duration) (bool, error) {
	var ready bool
	err := h.sock.withFD(func(fd int) error {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for {
			n, err := unix.Poll(fds, int(timeout/time.Millisecond))
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				return fmt.Errorf("poll %s: %w", h.sock.addr, err)
			}
			if fds[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0 {
				return fmt.Errorf("%s: %w", h.sock.addr, errNotListening)
			}
			ready = n > 0 && fds[0].Revents&unix.POLLIN != 0
			return nil
		}
	})
	return ready, err
}

// refuse accepts and closes the connections waiting in the backlog (their
// program could not be started). The socket is non-blocking meanwhile: a
// program replaced by a reload may still accept on it too, and a blocking
// accept here could then wait for the next client. Its mode is restored
// after (the mode belongs to the socket, shared with the programs).
func (h *handoffState) refuse() int {
	n := 0
	h.sock.withFD(func(fd int) error {
		fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		if err != nil {
			return err
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl|unix.O_NONBLOCK); err != nil {
			return err
		}
		defer unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl)
		for {
			c, _, err := unix.Accept4(fd, unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK)
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.ECONNABORTED) {
				continue
			}
			if err != nil {
				return nil // EAGAIN: the backlog is empty
			}
			unix.Close(c)
			n++
		}
	})
	return n
}

// busy counts the route's open connections plus those in the backlog; an
// error counting counts as busy (stopping a program that serves someone is
// worse than keeping an idle one). The error of looking at the backlog is
// returned with the count (errNotListening: the socket died).
//
// The backlog is looked at first: a connection the program accepts
// between the two looks is then counted (in the backlog, and maybe in the
// table too) instead of missed by both (in the table before the program
// held it, gone from the backlog after). Reading the socket table takes
// long when the machine has many sockets (seconds under load), which made
// that miss common: the watcher let go of a program serving a connection.
func (h *handoffState) busy() (int, error) {
	ok, perr := h.pending(0)
	n, err := countConns(h.ip, h.port)
	if err != nil {
		return 1, err
	}
	if ok {
		n++
	}
	return n, perr
}

// serveHandoff is the watcher of a hand-off route: it starts the program
// for the first waiting connection and holds the backend (no idle stop)
// while the route has connections.
func (r *route) serveHandoff() {
	defer close(r.serveDone)
	w := handoffWatch{r: r, h: r.hand, ctx: r.connCtx, obs: r.e.observer()}
	defer w.release()
	defer w.report(0)
	for w.ctx.Err() == nil {
		tick := time.Duration(w.h.tick.Load())
		b := w.h.backend.Load()
		if w.held != nil && w.held != b {
			// Swapped by a reload: the old program is stopped now (SIGTERM,
			// then SIGKILL after stop_grace), as systemd stops a socket-
			// activated service; a program finishes its open connections
			// on SIGTERM while the new one accepts.
			w.release()
		}
		switch b.State() {
		case backend.Stopped:
			// Closed: the route is going away, or a reload is swapping
			// in a new backend (sleep wakes for that).
			w.report(0)
			w.sleep(handoffPoll)
		case backend.Dormant, backend.Failed:
			w.release()
			w.report(0)
			w.waitAndStart()
		case backend.Draining:
			// An idle stop: the connections still open are the stopping
			// program's; only a new one in the backlog needs a program.
			w.report(0)
			if ok, _ := w.h.pending(0); ok {
				w.acquire(b)
			}
			w.sleep(tick)
		default: // Starting, Ready: a program runs (or is about to).
			n, err := w.sample()
			if errors.Is(err, errNotListening) {
				w.socketDied(b, err)
			}
			switch {
			case n > 0 && w.held == nil:
				w.acquire(b)
			case n == 0 && w.held != nil:
				w.release()
			}
			w.sleep(tick)
		}
	}
}

// handoffWatch is serveHandoff's state.
type handoffWatch struct {
	r    *route
	h    *handoffState
	ctx  context.Context
	obs  Observer
	held *backend.Backend // held (Acquire) while the route has connections
	last int64            // connections last reported
}

// sleep waits d, or less if the route ends, a reload swaps the backend or
// its process comes or goes (poke).
func (w *handoffWatch) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-w.ctx.Done():
	case <-w.h.wake:
	case <-t.C:
	}
}

// setBackend makes b the route's program (the watcher notices at once).
func (h *handoffState) setBackend(b *backend.Backend) {
	h.backend.Store(b)
	h.poke()
}

// poke wakes the watcher from its sleep: a program exited, was killed or
// stopped, and a connection may be waiting for the next one.
func (h *handoffState) poke() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// acquire holds b, the backend the watcher looked at, unless a reload has
// swapped it out meanwhile: the retired backend is being closed (its
// program told to stop, and draining), and the next round looks at its
// successor. (Acquire on a closing backend fails at once, rather than
// waiting out the old program's drain while nobody starts the new one.)
func (w *handoffWatch) acquire(b *backend.Backend) {
	if w.held == nil && w.h.backend.Load() == b && b.Acquire(w.ctx) == nil {
		w.held = b
	}
}

func (w *handoffWatch) release() {
	if w.held != nil {
		w.held.Release()
		w.held = nil
	}
}

// sample counts the route's connections and reports them (busy).
func (w *handoffWatch) sample() (int, error) {
	n, err := w.h.busy()
	if err != nil {
		w.r.e.log.Debug("handoff: counting connections", logging.KeyRoute, w.r.port, logging.KeyErr, err)
	}
	w.report(int64(n))
	return n, err
}

func (w *handoffWatch) report(n int64) {
	if w.obs != nil && n != w.last {
		w.obs.Conn(w.r.port, int(n-w.last))
	}
	w.last = n
	w.r.active.Store(n)
}

// reopen opens a new socket in place of one that stopped listening (a
// program that shared it shut it down; the port is free once nothing
// listens on it), and reports whether it could.
func (w *handoffWatch) reopen(why error) bool {
	w.r.e.log.Warn("handoff: the route's socket stopped listening; opening a new one",
		logging.KeyRoute, w.r.port, logging.KeyErr, why)
	if err := w.h.open(w.ctx); err != nil {
		w.r.e.log.Warn("handoff: reopening the socket", logging.KeyRoute, w.r.port, logging.KeyErr, err)
		return false
	}
	return true
}

// socketDied handles a socket that stopped listening under a running
// program (a program that shared it, such as one a reload replaced, shut it
// down): a new socket is opened and the program, which cannot accept on the
// dead one, is stopped; the next connection starts a program with the new one.
func (w *handoffWatch) socketDied(b *backend.Backend, err error) {
	if !w.reopen(err) {
		return // the watcher tries again at its next look
	}
	w.release()
	if err := b.Kill(); err != nil {
		w.r.e.log.Debug("handoff: stopping the program", logging.KeyRoute, w.r.port, logging.KeyErr, err)
	}
}

// waitAndStart waits (a while) for a connection in the backlog and starts
// the program for it.
func (w *handoffWatch) waitAndStart() {
	ok, err := w.h.pending(handoffPoll)
	if errors.Is(err, errNotListening) {
		if !w.reopen(err) {
			w.sleep(time.Second)
		}
		return
	}
	if err != nil {
		if w.ctx.Err() == nil {
			w.r.e.log.Warn("handoff: watching the socket", logging.KeyRoute, w.r.port, logging.KeyErr, err)
		}
		w.sleep(handoffPoll)
		return
	}
	if !ok || w.ctx.Err() != nil {
		return
	}
	// The backend now, not the one before the wait: a reload may have
	// replaced it meanwhile.
	b := w.h.backend.Load()
	err = b.Acquire(w.ctx)
	if err == nil {
		w.held = b
		return
	}
	if w.ctx.Err() != nil || errors.Is(err, backend.ErrStopped) || w.h.backend.Load() != b {
		return // replaced or closing: the next round looks again
	}
	n := w.h.refuse()
	w.r.e.log.Warn("handoff: program not started; closed the waiting connections",
		logging.KeyRoute, w.r.port, logging.KeyBackend, b.Name(), "conns", n, logging.KeyErr, err)
}

// countConns counts the TCP connections in this network namespace whose
// local end is ip:port (any local address when ip is unspecified) and that
// a process holds: a socket with an inode. That leaves out the listening
// socket, connections still in its backlog (pending counts those), and
// the ones a program has closed whose TCP ending lingers (TIME_WAIT, and
// orphaned FIN_WAIT2 for up to tcp_fin_timeout, which would otherwise
// keep an idle program running).
//
// It asks the kernel through sock_diag (sockdiag.go) and reads
// /proc/net/tcp{,6} where that is refused (a sandbox without netlink).
func countConns(ip net.IP, port int) (int, error) {
	if n, err := countConnsDiag(ip, port); err == nil {
		return n, nil
	}
	return countConnsProc(ip, port)
}

func countConnsProc(ip net.IP, port int) (int, error) {
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
		// "sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...";
		// local is HEXADDR:HEXPORT.
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
		if len(fields) < 10 || fields[9] == "0" {
			continue // no inode: no process holds it (queued, or closed and ending)
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
