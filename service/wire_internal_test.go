package service

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/warren-mesh/warren/internal/testutil"
)

// TestReadForItemAlreadyThere: a reader that hands a waiter its reply
// just after the waiter found its inbox empty, and then passes the read
// token on, must not make that waiter read the socket for a frame that
// may never come (the last reply of a burst: it would hang).
func TestReadForItemAlreadyThere(t *testing.T) {
	defer testutil.VerifyNoLeaks(t)
	a, b := net.Pipe()
	defer b.Close()
	w := newWireConn(a, slog.New(slog.DiscardHandler), 0, nil)
	w.start()
	defer func() { w.close(ErrClosed); w.wait() }()
	st := w.newStream()
	st.in.push(item{v: "reply"}) // delivered by the previous token holder

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	<-w.readTok // what recv does when it picks the token over the signal
	err := w.readFor(ctx, st)
	w.readTok <- struct{}{}
	if err != nil {
		t.Fatalf("readFor with the item already queued: %v (it read the socket)", err)
	}
	if it, ok, _ := st.in.tryPop(); !ok || it.v != "reply" {
		t.Fatalf("inbox: got %v, %v", it, ok)
	}
}
