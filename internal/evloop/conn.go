package evloop

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// maxQueued bounds what a Conn queues beyond what the socket took; a
// writer that keeps writing past it is closed (callers pause their
// source long before: see Queued).
const maxQueued = 16 << 20

// ErrQueueFull: more output was queued than maxQueued.
var ErrQueueFull = errors.New("evloop: output queue full")

// Conn is one socket in a loop.
type Conn struct {
	// Ctx is the owner's value.
	Ctx any

	l          *Loop
	fd         int
	id         int32 // in the epoll event beside fd: an event for a closed socket whose number was reused is dropped
	h          Handler
	ev         uint32 // epoll events registered
	in         []byte // bytes read and not consumed
	out        []byte // bytes written and not yet taken by the socket
	sent       uint64 // bytes the socket has taken
	eof        bool
	paused     bool
	connecting bool
	closed     bool
	err        error
}

// Fd is the socket's descriptor.
func (c *Conn) Fd() int { return c.fd }

// In returns the bytes read and not yet consumed.
func (c *Conn) In() []byte { return c.in }

// Consume drops the first n bytes of In.
func (c *Conn) Consume(n int) {
	if n >= len(c.in) {
		c.in = c.in[:0]
		return
	}
	c.in = c.in[:copy(c.in, c.in[n:])]
}

// Unread puts b before the bytes not yet consumed: for a socket handed in
// with bytes another reader had already taken from it.
func (c *Conn) Unread(b []byte) {
	c.in = append(append(make([]byte, 0, len(b)+len(c.in)), b...), c.in...)
}

// EOF reports that the peer has finished sending.
func (c *Conn) EOF() bool { return c.eof }

// Closed reports whether the connection has been closed.
func (c *Conn) Closed() bool { return c.closed }

// Queued is how many written bytes wait for the socket.
func (c *Conn) Queued() int { return len(c.out) }

// Sent is how many bytes the socket has taken so far: an owner that sees
// it unchanged while Queued stays above zero knows the peer reads nothing.
func (c *Conn) Sent() uint64 { return c.sent }

// Write sends b, queueing what the socket does not take now. An error
// closes the connection (OnClose follows the current callback).
func (c *Conn) Write(b []byte) error {
	if c.closed {
		return c.errOr(unix.EBADF)
	}
	if len(c.out) == 0 {
		n, err := writeFd(c.fd, b)
		c.sent += uint64(n)
		if err != nil {
			c.CloseErr(err)
			return err
		}
		b = b[n:]
		if len(b) == 0 {
			return nil
		}
	}
	if len(c.out)+len(b) > maxQueued {
		c.CloseErr(ErrQueueFull)
		return ErrQueueFull
	}
	c.out = append(c.out, b...)
	c.setEvents()
	return nil
}

func (c *Conn) errOr(def error) error {
	if c.err != nil {
		return c.err
	}
	return def
}

// writeFd writes until EAGAIN or done.
func writeFd(fd int, b []byte) (int, error) {
	total := 0
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if n > 0 {
			total += n
			b = b[n:]
		}
		if err == unix.EAGAIN {
			return total, nil
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return total, fmt.Errorf("write: %w", err)
		}
	}
	return total, nil
}

// PauseRead stops reading until ResumeRead (bytes stay in the socket,
// and TCP flow control slows the peer down).
func (c *Conn) PauseRead() {
	if !c.paused {
		c.paused = true
		c.setEvents()
	}
}

// ResumeRead undoes PauseRead.
func (c *Conn) ResumeRead() {
	if c.paused {
		c.paused = false
		c.setEvents()
	}
}

func (c *Conn) setEvents() {
	if c.closed {
		return
	}
	var ev uint32
	if !c.paused && !c.eof && !c.connecting {
		ev |= unix.EPOLLIN | unix.EPOLLRDHUP
	}
	if len(c.out) > 0 || c.connecting {
		ev |= unix.EPOLLOUT
	}
	if ev == c.ev {
		return
	}
	c.ev = ev
	if err := unix.EpollCtl(c.l.epfd, unix.EPOLL_CTL_MOD, c.fd, &unix.EpollEvent{Events: ev, Fd: int32(c.fd), Pad: c.id}); err != nil {
		c.CloseErr(fmt.Errorf("evloop: epoll_ctl mod: %w", err))
	}
}

// Close closes the connection; OnClose follows the current callback.
func (c *Conn) Close() { c.CloseErr(nil) }

// CloseErr closes the connection, reporting err to OnClose.
func (c *Conn) CloseErr(err error) {
	if c.closed {
		return
	}
	c.closed = true
	c.err = err
	delete(c.l.conns, c.fd)
	unix.EpollCtl(c.l.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	unix.Close(c.fd)
	c.out = nil
	c.l.closing = append(c.l.closing, c)
}

// Detach takes the connection out of the loop without closing its
// descriptor, which the caller now owns, and returns the bytes read and
// not consumed. No callback follows.
func (c *Conn) Detach() (fd int, rest []byte, err error) {
	if c.closed {
		return -1, nil, c.errOr(unix.EBADF)
	}
	if len(c.out) > 0 {
		return -1, nil, errors.New("evloop: detach with output queued")
	}
	c.closed = true
	delete(c.l.conns, c.fd)
	if err := unix.EpollCtl(c.l.epfd, unix.EPOLL_CTL_DEL, c.fd, nil); err != nil {
		unix.Close(c.fd)
		return -1, nil, fmt.Errorf("evloop: epoll_ctl del: %w", err)
	}
	return c.fd, c.in, nil
}

// event handles one epoll event for c.
func (c *Conn) event(ev uint32) {
	if c.connecting {
		if ev&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) == 0 {
			return
		}
		c.connecting = false
		soerr, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err == nil && soerr != 0 {
			err = unix.Errno(soerr)
		}
		if err != nil {
			err = fmt.Errorf("dial: %w", err)
			c.CloseErr(err)
			c.h.OnConnect(c, err)
			return
		}
		c.setEvents()
		c.h.OnConnect(c, nil)
		return
	}
	if ev&(unix.EPOLLERR|unix.EPOLLHUP) != 0 && (c.paused || c.eof) && len(c.out) == 0 {
		// epoll reports these even when not asked for: a connection that
		// is not read (paused, or at EOF) and has nothing to write would
		// make the level-triggered loop spin. The socket is dead: close.
		err := error(unix.ECONNRESET)
		if soerr, e := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR); e == nil && soerr != 0 {
			err = unix.Errno(soerr)
		}
		c.CloseErr(fmt.Errorf("read: %w", err))
		return
	}
	if ev&unix.EPOLLOUT != 0 && len(c.out) > 0 {
		n, err := writeFd(c.fd, c.out)
		c.sent += uint64(n)
		if err != nil {
			c.CloseErr(err)
			return
		}
		c.out = c.out[:copy(c.out, c.out[n:])]
		if len(c.out) == 0 {
			c.out = nil // give a large queue back
			c.setEvents()
			c.h.OnWritable(c)
			if c.closed {
				return
			}
		}
	}
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 && !c.paused && !c.eof {
		n, err := unix.Read(c.fd, c.l.buf)
		switch {
		case n > 0:
			c.in = append(c.in, c.l.buf[:n]...)
		case n == 0 && err == nil:
			c.eof = true
			c.setEvents()
		case err == unix.EAGAIN || err == unix.EINTR:
			return
		default:
			c.CloseErr(fmt.Errorf("read: %w", err))
			return
		}
		c.h.OnRead(c)
	}
}
