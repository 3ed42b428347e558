package backend

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// watchHangup returns a context that ends when client hangs up (FIN or
// RST with nothing unread before it), and stop, which ends the watch,
// waits for its goroutine and reports whether the client was seen gone.
func watchHangup(ctx context.Context, client net.Conn) (context.Context, func() bool) {
	wctx, cancel := context.WithCancel(ctx)
	sc, ok := client.(syscall.Conn)
	if !ok {
		return wctx, func() bool { cancel(); return false }
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return wctx, func() bool { cancel(); return false }
	}
	// A duplicate descriptor has a poller registration and deadlines of
	// its own; the client connection's are left alone.
	var dup int = -1
	raw.Control(func(fd uintptr) { dup, err = unix.Dup(int(fd)) })
	if err != nil || dup < 0 {
		return wctx, func() bool { cancel(); return false }
	}
	f := os.NewFile(uintptr(dup), "hangup-watch")
	w, err := net.FileConn(f) // dups again; f is closed below
	f.Close()
	if err != nil {
		return wctx, func() bool { cancel(); return false }
	}
	wraw, err := w.(syscall.Conn).SyscallConn()
	if err != nil {
		w.Close()
		return wctx, func() bool { cancel(); return false }
	}
	gone := false
	done := make(chan struct{})
	go func() {
		defer close(done)
		var b [1]byte
		wraw.Read(func(fd uintptr) bool {
			n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
			switch {
			case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
				return false // nothing yet: wait for readability
			case err != nil || n == 0:
				gone = true // reset, or orderly close with nothing unread
				cancel()
			}
			return true // bytes pending: cannot judge; stop watching
		})
	}()
	return wctx, func() bool {
		w.SetReadDeadline(time.Unix(1, 0)) // wakes the poller wait
		<-done
		w.Close()
		cancel()
		return gone
	}
}
