// Package listenq is a net.Listener fed with connections accepted (or
// taken over) elsewhere: a server that wants a listener (net/http,
// fasthttp) serves connections another loop decided to give it.
package listenq

import (
	"net"
	"sync"
)

// Listener hands pushed connections to Accept, one at a time.
type Listener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

// New returns an open listener reporting addr as its address.
func New(addr net.Addr) *Listener {
	return &Listener{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

// Push waits until Accept takes c; once the listener is closed it closes c
// instead.
func (l *Listener) Push(c net.Conn) {
	select {
	case l.ch <- c:
	case <-l.done:
		c.Close()
	}
}

// Accept returns the next pushed connection, or net.ErrClosed once the
// listener is closed.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close makes Accept and Push return; it may be called more than once.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr is the address given to New.
func (l *Listener) Addr() net.Addr { return l.addr }
