package service

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
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
	if it, ok, _ := st.in.tryPop(nil); !ok || it.v != "reply" {
		t.Fatalf("inbox: got %v, %v", it, ok)
	}
}

type assignMsg struct {
	S string
	N int
}

// TestAssignDecodedInPlace: a message decoded into a new variable and
// passed by pointer (item.ptr) reaches every kind of Recv destination as
// the value that was sent, exactly as an item holding the value does.
func TestAssignDecodedInPlace(t *testing.T) {
	want := assignMsg{S: "x", N: 7}
	for _, ptr := range []bool{false, true} {
		mk := func() item {
			if ptr {
				v := want
				return item{v: &v, ptr: true}
			}
			return item{v: want}
		}
		t.Run(map[bool]string{false: "value", true: "pointer"}[ptr], func(t *testing.T) {
			var v assignMsg
			if err := assign(&v, mk()); err != nil || v != want {
				t.Fatalf("*T: %v %v", v, err)
			}
			var p *assignMsg
			if err := assign(&p, mk()); err != nil || p == nil || *p != want {
				t.Fatalf("**T: %v %v", p, err)
			}
			var a any
			if err := assign(&a, mk()); err != nil || a != any(want) {
				t.Fatalf("*any: %#v %v", a, err)
			}
			var s fmt.Stringer
			if err := assign(&s, mk()); err == nil {
				t.Fatalf("*fmt.Stringer: want a type error, got %v", s)
			}
			var n int
			if err := assign(&n, mk()); err == nil || !strings.Contains(err.Error(), "want int") {
				t.Fatalf("*int: %v", err)
			}
			if err := assign(nil, mk()); err != nil {
				t.Fatalf("nil: %v", err)
			}
		})
	}
}
