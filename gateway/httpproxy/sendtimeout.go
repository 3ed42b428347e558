package httpproxy

import (
	"errors"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/warren-mesh/warren/internal/tcpinfo"
)

// send_timeout closes a client connection whose response waits while the
// client takes no byte of it for that long. Progress is what the client's
// TCP has acknowledged (TCP_INFO), not what the gateway handed the socket:
// the kernel's send buffer grows to megabytes and takes more only once a
// third of it has drained, so a slow but steady reader can go seconds
// without a write completing, while its acknowledgements keep coming.
// As nginx's send_timeout, it is a timeout between progress, not for a
// whole response: streams and downloads live on while the client reads.

// ackedFd returns how many bytes the peer of TCP socket fd has
// acknowledged.
func ackedFd(fd int) (uint64, bool) {
	info, err := tcpinfo.FromFd(fd)
	if err != nil {
		return 0, false
	}
	return info.Bytes_acked, true
}

func ackedConn(c net.Conn) (uint64, bool) {
	info, ok := tcpinfo.Of(c)
	if !ok {
		return 0, false
	}
	return info.Bytes_acked, true
}

// sendConn gives the general path's client connections send_timeout: its
// writes carry a deadline, and a write still blocked at the deadline
// fails (fasthttp then closes the connection) unless the client
// acknowledged bytes since the deadline was set; then it goes on under a
// new one. A stalled client is cut between 1× and 2× the timeout.
//
// Re-arming the socket's deadline on every write would reset a runtime
// timer per response (on this VM such a reset can wake the other CPU's
// idle poller), so a deadline is set only when less than half the
// timeout is left of the last one.
type sendConn struct {
	net.Conn
	timeout time.Duration
	until   atomic.Int64 // the write deadline this wrapper set, unix ns; 0 = none, callerDeadline = the caller's
	acked   uint64       // the client's acknowledged bytes when the deadline was set (written by Write only)
}

// callerDeadline in sendConn.until: the caller set a write deadline of its
// own, which stands until it clears it.
const callerDeadline = -1

func (c *sendConn) Write(b []byte) (int, error) {
	until := c.until.Load()
	if until == callerDeadline {
		return c.Conn.Write(b)
	}
	if now := time.Now(); until == 0 || time.Unix(0, until).Sub(now) < c.timeout/2 {
		if err := c.arm(now); err != nil {
			return 0, err
		}
	}
	total := 0
	for {
		n, err := c.Conn.Write(b)
		total += n
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) || c.until.Load() == callerDeadline {
			return total, err
		}
		if acked, ok := ackedConn(c.Conn); !ok || acked == c.acked {
			return total, err // no byte taken for the whole timeout
		}
		b = b[n:]
		if err := c.arm(time.Now()); err != nil {
			return total, err
		}
	}
}

// arm sets the deadline a timeout from now and notes the client's progress.
func (c *sendConn) arm(now time.Time) error {
	d := now.Add(c.timeout)
	if err := c.Conn.SetWriteDeadline(d); err != nil {
		return err
	}
	c.until.Store(d.UnixNano())
	c.acked, _ = ackedConn(c.Conn)
	return nil
}

// SetWriteDeadline and SetDeadline set a deadline of the caller's, which
// replaces send_timeout until the caller clears it (a zero time).
func (c *sendConn) SetWriteDeadline(t time.Time) error {
	c.until.Store(untilFor(t))
	return c.Conn.SetWriteDeadline(t)
}

func (c *sendConn) SetDeadline(t time.Time) error {
	c.until.Store(untilFor(t))
	return c.Conn.SetDeadline(t)
}

func untilFor(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return callerDeadline
}

// SyscallConn lets the general path watch the socket (backend.AcquireConn).
func (c *sendConn) SyscallConn() (syscall.RawConn, error) { return rawConn(c.Conn) }

// NetConn returns the connection under the wrapper (see socketOf).
func (c *sendConn) NetConn() net.Conn { return c.Conn }
