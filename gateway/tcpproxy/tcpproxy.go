// Package tcpproxy owns the gateway's TCP byte pipe: it joins a client
// connection to a backend connection in both directions with io.Copy
// between *net.TCPConn values (so Linux moves the bytes with splice(2),
// never through user space), passes half-closes through (CloseWrite), and
// closes a pipe that stays idle too long or whose context ends.
package tcpproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// ErrIdle is returned by Pipe when the connection was closed for idleness.
var ErrIdle = errors.New("tcpproxy: idle timeout")

// chunk is how many bytes one io.CopyN call may move before the loop
// re-arms the idle deadline. io.CopyN hands the kernel an *io.LimitedReader,
// which (*net.TCPConn).ReadFrom still splices, so the chunking costs one
// syscall per 4 MiB.
const chunk = 4 << 20

// Piper joins connections. The zero value is ready to use and never times
// out an idle pipe.
type Piper struct {
	// IdleTimeout closes a pipe when no byte moved in either direction for
	// that long (detected within 2×IdleTimeout on a trickling stream). 0 = never.
	IdleTimeout time.Duration
	// DialTimeout bounds dial when ctx has no earlier deadline. 0 = 10s.
	DialTimeout time.Duration
}

// Pipe is (&Piper{}).Pipe: a pipe without idle timeout.
func Pipe(ctx context.Context, client net.Conn, dial func(ctx context.Context) (net.Conn, error)) error {
	var p Piper
	return p.Pipe(ctx, client, dial)
}

// Pipe dials the backend and copies bytes both ways until both directions
// have ended, then closes both connections (client always, even when dial
// fails). An end of stream in one direction is passed on as a half-close
// (CloseWrite) so request/response protocols that shut down their write side
// keep working. It returns nil after a clean end in both directions, ErrIdle
// after an idle timeout, ctx's error when ctx ended first, or the first I/O
// error. Pipe returns only when both copy goroutines have ended.
func (p *Piper) Pipe(ctx context.Context, client net.Conn, dial func(ctx context.Context) (net.Conn, error)) error {
	dt := p.DialTimeout
	if dt <= 0 {
		dt = 10 * time.Second
	}
	dctx, cancel := context.WithTimeout(ctx, dt)
	backend, err := dial(dctx)
	cancel()
	if err != nil {
		client.Close()
		return fmt.Errorf("tcpproxy: dial backend: %w", err)
	}

	closeBoth := sync.OnceFunc(func() {
		client.Close()
		backend.Close()
	})
	ctxDone := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(ctxDone)
		closeBoth()
	})
	s := &state{idle: p.IdleTimeout, conns: [2]net.Conn{client, backend}}
	s.touch()
	errc := make(chan error, 2)
	go func() { errc <- s.copy(backend, client) }()
	go func() { errc <- s.copy(client, backend) }()
	err1 := <-errc
	var err2 error
	if s.idle > 0 {
		err2 = s.watchIdle(errc, closeBoth)
	} else {
		err2 = <-errc
	}
	closeBoth()
	if !stop() {
		<-ctxDone
		return fmt.Errorf("tcpproxy: %w", ctx.Err())
	}
	if s.idled.Load() {
		return ErrIdle
	}
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("tcpproxy: %w", err)
	}
	return nil
}

type state struct {
	conns [2]net.Conn
	idle  time.Duration
	last  atomic.Int64 // unix nanos of the last moved byte in either direction
	idled atomic.Bool
}

func (s *state) touch() { s.last.Store(time.Now().UnixNano()) }

// watchIdle waits for the last copy once the first has ended (a half-close).
// That copy may be blocked writing to a peer that stopped reading, where its
// read deadline never fires, so the idle timeout is enforced from here: when
// no byte moved on either socket for the whole timeout, both are closed.
func (s *state) watchIdle(errc <-chan error, closeBoth func()) error {
	t := time.NewTimer(s.idle)
	defer t.Stop()
	for {
		select {
		case err := <-errc:
			return err
		case <-t.C:
			q := s.quietFor()
			if q >= s.idle {
				s.idled.Store(true)
				closeBoth()
				return <-errc
			}
			t.Reset(s.idle - q)
		}
	}
}

// quietFor is how long no data moved on either connection, from the
// kernel's per-socket counters where available (TCP_INFO on Linux) and
// from the completed copies otherwise.
func (s *state) quietFor() time.Duration {
	q := time.Since(time.Unix(0, s.last.Load()))
	for _, c := range s.conns {
		if d, ok := lastData(c); ok && d < q {
			q = d
		}
	}
	return q
}

// copy moves src to dst until src ends, then half-closes dst. On an error it
// closes both ends so the other direction ends too.
func (s *state) copy(dst, src net.Conn) error {
	if s.idle <= 0 {
		// No deadline to re-arm: one io.Copy, spliced end to end.
		_, err := io.Copy(dst, src)
		if err == nil {
			return closeWrite(dst)
		}
		dst.Close()
		src.Close()
		if isClosed(err) {
			return nil
		}
		return err
	}
	for {
		if s.idle > 0 {
			_ = src.SetReadDeadline(time.Now().Add(s.idle))
		}
		n, err := io.CopyN(dst, src, chunk)
		if n > 0 {
			s.touch()
		}
		if err == nil {
			continue
		}
		if err == io.EOF {
			return closeWrite(dst)
		}
		if s.idle > 0 && errors.Is(err, os.ErrDeadlineExceeded) {
			if n > 0 {
				continue // bytes moved during the window: not idle
			}
			// This direction was quiet for the whole window. The other one may
			// be in the middle of a long splice that has not returned yet: ask
			// the kernel when each socket last moved data.
			if quiet := s.quietFor(); quiet < s.idle {
				continue
			}
			s.idled.Store(true)
		}
		dst.Close()
		src.Close()
		if s.idled.Load() || isClosed(err) {
			return nil
		}
		return err
	}
}

func closeWrite(c net.Conn) error {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		if err := cw.CloseWrite(); err != nil && !isClosed(err) {
			return fmt.Errorf("close write: %w", err)
		}
		return nil
	}
	return nil
}

// isClosed reports errors caused by our own Close (the other direction failed
// or ctx ended): not worth reporting on their own.
func isClosed(err error) bool {
	return errors.Is(err, net.ErrClosed)
}
