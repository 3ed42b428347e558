// Package evloop is a small epoll event loop for data paths that must not
// pay Go's per-connection goroutine and netpoller costs: one goroutine
// waits on one epoll instance and runs every connection's callbacks, reads
// once per readiness event (never a read that returns EAGAIN on the hot
// path) and writes directly, queueing only what the socket does not take.
//
// Why not github.com/panjf2000/gnet: a proxy needs to stop reading one
// side while the other side's output is backed up (otherwise a fast
// backend and a slow client fill memory); gnet offers no way to pause a
// connection's reads. This loop does (PauseRead), and it can hand a
// connection's descriptor back to ordinary Go code (Detach).
//
// Rules: every method of Loop and Conn except Post and Close-from-Post
// runs on the loop's goroutine (inside a callback or a posted function).
// Callbacks are never nested: a connection that fails while a callback
// writes to it is closed, and its OnClose runs after that callback
// returns.
package evloop

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Handler receives a connection's events, on the loop's goroutine.
type Handler interface {
	// OnRead: new bytes are in c.In() (and c.EOF() tells whether the peer
	// has finished sending). Consume what was used with c.Consume.
	OnRead(c *Conn)
	// OnWritable: the output queued by Write has been written out, after
	// a Write had to queue (used to resume a paused peer).
	OnWritable(c *Conn)
	// OnConnect: a Dial finished (err nil) or failed (the conn is closed
	// and OnClose follows).
	OnConnect(c *Conn, err error)
	// OnClose: the connection is closed (by Close, or an I/O error).
	OnClose(c *Conn, err error)
}

// Loop is one epoll instance and the goroutine that serves it.
type Loop struct {
	epfd   int
	wakefd int // eventfd: Post wakes the loop with it

	mu      sync.Mutex
	tasks   []func()
	woken   atomic.Bool
	stopped atomic.Bool // set under mu (Post must not write a closed eventfd); Run reads it without

	conns   map[int]*Conn
	lastID  int32
	closing []*Conn // closed during a callback; OnClose runs after it
	buf     []byte  // read buffer shared by all connections of the loop
	events  []unix.EpollEvent
	tick    time.Duration
	onTick  func(now time.Time)
	done    chan struct{}
}

// New returns a loop; Run serves it. onTick, if set, runs about every
// tick while the loop has connections (timeouts are checked there); a
// loop without connections sleeps until Post.
func New(tick time.Duration, onTick func(now time.Time)) (*Loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("evloop: epoll_create: %w", err)
	}
	wfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("evloop: eventfd: %w", err)
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wfd)}); err != nil {
		unix.Close(epfd)
		unix.Close(wfd)
		return nil, fmt.Errorf("evloop: epoll_ctl: %w", err)
	}
	if tick <= 0 {
		tick = time.Second
	}
	return &Loop{
		epfd: epfd, wakefd: wfd, conns: map[int]*Conn{},
		buf: make([]byte, 64<<10), events: make([]unix.EpollEvent, 128),
		tick: tick, onTick: onTick, done: make(chan struct{}),
	}, nil
}

// ErrStopped: the loop no longer runs posted functions.
var ErrStopped = errors.New("evloop: loop stopped")

// Post runs fn on the loop's goroutine. Safe from any goroutine.
func (l *Loop) Post(fn func()) error {
	l.mu.Lock()
	if l.stopped.Load() {
		l.mu.Unlock()
		return ErrStopped
	}
	l.tasks = append(l.tasks, fn)
	if !l.woken.Swap(true) {
		l.wake()
	}
	l.mu.Unlock()
	return nil
}

// Stop makes Run close every connection and return; it waits for that.
func (l *Loop) Stop() {
	l.mu.Lock()
	if !l.stopped.Load() {
		l.stopped.Store(true)
		l.wake()
	}
	l.mu.Unlock()
	<-l.done
}

// wake writes the eventfd; l.mu is held, so Run cannot have closed it.
func (l *Loop) wake() {
	var one = [8]byte{1}
	unix.Write(l.wakefd, one[:])
}

// Done is closed when Run has returned.
func (l *Loop) Done() <-chan struct{} { return l.done }

// Conns returns the number of open connections (loop goroutine only).
func (l *Loop) Conns() int { return len(l.conns) }

// Run serves the loop until Stop.
func (l *Loop) Run() {
	defer close(l.done)
	next := time.Now().Add(l.tick)
	block := false
	for {
		var n int
		var err error
		if block {
			wait := -1 // no connection: nothing to time out, sleep until Post
			if len(l.conns) > 0 {
				wait = max(int(time.Until(next)/time.Millisecond), 0)
			}
			n, err = unix.EpollWait(l.epfd, l.events, wait)
		} else {
			n, err = pollNow(l.epfd, l.events)
		}
		if err != nil && err != unix.EINTR {
			panic(fmt.Sprintf("evloop: epoll_wait: %v", err))
		}
		// Busy: poll again without blocking. Idle: yield once, then block.
		// A blocking epoll_wait makes the runtime hand this goroutine's P
		// to another thread and take one back when it returns (futex
		// wake-ups and thread switches per event on a loaded machine); a
		// poll that returns at once is a plain system call.
		if n <= 0 {
			if !block {
				runtime.Gosched()
			}
			block = !block
		} else {
			block = false
		}
		for i := 0; i < n; i++ {
			ev := l.events[i]
			fd := int(ev.Fd)
			if fd == l.wakefd {
				var b [8]byte
				unix.Read(l.wakefd, b[:])
				continue
			}
			// A callback earlier in this batch may have closed a socket and
			// opened another with its number: the id tells them apart.
			if c := l.conns[fd]; c != nil && c.id == ev.Pad {
				c.event(ev.Events)
				l.flushClosing()
			}
		}
		if l.woken.Load() {
			l.woken.Store(false)
			l.runTasks()
		}
		if now := time.Now(); !now.Before(next) && len(l.conns) > 0 {
			next = now.Add(l.tick)
			if l.onTick != nil {
				l.onTick(now)
				l.flushClosing()
			}
		}
		if l.stopped.Load() {
			l.runTasks() // posted before Stop: run, then close what they opened
			for _, c := range l.conns {
				c.CloseErr(ErrStopped)
			}
			l.flushClosing()
			l.mu.Lock()
			unix.Close(l.epfd)
			unix.Close(l.wakefd)
			l.mu.Unlock()
			return
		}
	}
}

// pollNow is epoll_wait with a zero timeout as a raw system call: it
// cannot block, so the scheduler need not know.
func pollNow(epfd int, events []unix.EpollEvent) (int, error) {
	n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_WAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(n), nil
}

// runTasks runs the functions posted so far.
func (l *Loop) runTasks() {
	l.mu.Lock()
	tasks := l.tasks
	l.tasks = nil
	l.mu.Unlock()
	for _, t := range tasks {
		t()
		l.flushClosing()
	}
}

func (l *Loop) flushClosing() {
	// By index, clearing each slot: OnClose may close (append) more, and
	// the array must not keep closed connections (and their Ctx) alive.
	for i := 0; i < len(l.closing); i++ {
		c := l.closing[i]
		l.closing[i] = nil
		c.h.OnClose(c, c.err)
	}
	l.closing = l.closing[:0]
}

func (l *Loop) newID() int32 {
	l.lastID++
	return l.lastID
}

// Add takes fd (a connected, non-blocking socket) into the loop.
func (l *Loop) Add(fd int, h Handler, ctx any) (*Conn, error) {
	c := &Conn{l: l, fd: fd, id: l.newID(), h: h, Ctx: ctx, ev: unix.EPOLLIN | unix.EPOLLRDHUP}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: c.ev, Fd: int32(fd), Pad: c.id}); err != nil {
		return nil, fmt.Errorf("evloop: epoll_ctl add: %w", err)
	}
	l.conns[fd] = c
	return c, nil
}

// Dial starts a non-blocking TCP connect to sa; OnConnect reports the end.
func (l *Loop) Dial(sa unix.Sockaddr, h Handler, ctx any) (*Conn, error) {
	family := unix.AF_INET
	if _, ok := sa.(*unix.SockaddrInet6); ok {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("evloop: socket: %w", err)
	}
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	err = unix.Connect(fd, sa)
	if err != nil && err != unix.EINPROGRESS {
		unix.Close(fd)
		return nil, fmt.Errorf("dial: %w", err)
	}
	c := &Conn{l: l, fd: fd, id: l.newID(), h: h, Ctx: ctx, connecting: true, ev: unix.EPOLLOUT}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: c.ev, Fd: int32(fd), Pad: c.id}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("evloop: epoll_ctl add: %w", err)
	}
	l.conns[fd] = c
	return c, nil
}
