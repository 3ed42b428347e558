package httpproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// Giving a connection back to the lane.
//
// The lane hands a keep-alive connection to the general path when no
// backend is ready (a cold start, a backoff): the general path waits,
// starts, answers. Without more, the connection would then stay there for
// its whole life, and a browser's connections opened during a cold start
// would all be served by the slower path. So such a connection is marked
// returnable, and once the general path has answered a request on it with
// every backend ready, it hijacks the connection after the response and
// gives it, with the bytes its reader holds, back to the lane.
//
// A connection the lane gave up for a reason of its requests (a CORS
// origin, a body the lane does not parse) is not marked: handing it back
// and forth on every request would cost more than the lane saves.

// returnable marks a connection the lane gave up for a passing reason.
type returnable struct{ net.Conn }

// NetConn returns the connection under the wrapper (see socketOf).
func (c *returnable) NetConn() net.Conn { return c.Conn }

// SyscallConn lets the general path watch the socket (backend.AcquireConn).
func (c *returnable) SyscallConn() (syscall.RawConn, error) { return rawConn(c.Conn) }

// rawConn is the socket under the wrappers of c, for their SyscallConn.
func rawConn(c net.Conn) (syscall.RawConn, error) {
	sock, _ := socketOf(c)
	if sock == nil {
		return nil, fmt.Errorf("httpproxy: no TCP socket under %T", c)
	}
	return sock.SyscallConn()
}

// wrapped is a connection wrapper of this package (or fasthttp's hijacked
// connection, UnsafeConn) that says what it wraps.
type wrapped interface{ NetConn() net.Conn }

// socketOf walks down the wrappers of c: the socket under them and
// whether one of them marks c returnable.
func socketOf(c net.Conn) (sock *net.TCPConn, back bool) {
	for c != nil {
		switch w := c.(type) {
		case *net.TCPConn:
			return w, back
		case *returnable:
			back = true
			c = w.Conn
		case wrapped:
			c = w.NetConn()
		case interface{ UnsafeConn() net.Conn }:
			c = w.UnsafeConn()
		default:
			return nil, back
		}
	}
	return nil, back
}

// giveBack arranges, after a request answered by a backend, for a
// returnable connection to go back to the lane once the response is out.
func (p *Proxy) giveBack(ctx *fasthttp.RequestCtx, pool *Pool, streamed bool) {
	if !pool.lane || !allReady(pool) || slices.ContainsFunc(pool.Targets, (*Target).unavailable) || streamed ||
		ctx.Request.Header.ConnectionClose() || ctx.Response.ConnectionClose() {
		// The lane would give the connection up again at once while a
		// backend is not ready or out of rotation (no choice for it).
		// A streamed request body may be partly unread: the bytes after the
		// response are not the next request (fasthttp discards them only
		// when it keeps the connection itself).
		return
	}
	if _, back := socketOf(ctx.Conn()); !back {
		return
	}
	// fasthttp calls the hijack handler only if it keeps the connection
	// after the response (not when it closes it: a write error, a
	// shutdown).
	ctx.Hijack(func(c net.Conn) {
		p.mu.Lock()
		lane := p.lane
		if p.closed || lane == nil {
			p.mu.Unlock()
			return
		}
		p.wg.Add(1) // Shutdown waits for the hand-back (p.closed is checked under p.mu)
		p.mu.Unlock()
		defer p.wg.Done()
		p.backToLane(lane, c)
	})
}

// backToLane takes the bytes fasthttp's reader (and a prefixConn) hold
// for the next requests, without reading the socket, and gives the socket
// and them to the lane. fasthttp closes c when this returns; the lane
// keeps a duplicate of the descriptor.
func (p *Proxy) backToLane(lane *lane, c net.Conn) {
	// A read deadline in the past: the buffered bytes come out, then the
	// read of the socket fails at once and what the kernel holds stays.
	if err := c.SetReadDeadline(time.Unix(1, 0)); err != nil {
		return
	}
	var pre []byte
	buf := make([]byte, 16<<10)
	for {
		n, err := c.Read(buf)
		pre = append(pre, buf[:n]...)
		if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, io.EOF) {
			break // at EOF the lane answers what came before it, then closes
		}
		if err != nil {
			return // the socket failed: fasthttp closes it
		}
	}
	sock, _ := socketOf(c)
	if sock == nil || !lane.add(sock, pre, false) {
		p.log.Debug("giving a connection back to the lane failed; closing it")
	}
}
