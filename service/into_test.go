package service_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warren-mesh/warren/internal/testutil"
	"github.com/warren-mesh/warren/service"
)

// Sparse answers with a reply whose fields are set only when asked: a
// field the payload leaves out must read as zero in the receiver's
// value, as it would in a new one.
type Sparse struct{ Full bool }

type SparseReply struct {
	Name string         `cbor:"n,omitempty"`
	List []int          `cbor:"l,omitempty"`
	Map  map[string]int `cbor:"m,omitempty"`
	Ptr  *int32         `cbor:"p,omitempty"`
}

func (s Sparse) Handle(*service.Stream) any {
	if !s.Full {
		return SparseReply{}
	}
	n := int32(7)
	return SparseReply{Name: "full", List: []int{1, 2}, Map: map[string]int{"a": 1}, Ptr: &n}
}

func init() { service.RegisterType(Sparse{}, SparseReply{}) }

// A client's reply is decoded straight into the caller's value over a
// byte-stream connection: what the reply leaves out is zero there (not
// the value's previous contents), and nothing of one reply is shared
// with the next.
func TestRecvIntoCallerValue(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	e.serve(service.ScopeOS, func(s *service.Server) error { return s.Publish("test", "sparse", Sparse{}) })
	conn := e.dial(service.ScopeOS, "test", "sparse")
	st := conn.NewStream()
	defer st.Close()
	var rep SparseReply
	if err := st.SendRecvContext(ctxT(t), Sparse{Full: true}, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Name != "full" || len(rep.List) != 2 || rep.Map["a"] != 1 || rep.Ptr == nil || *rep.Ptr != 7 {
		t.Fatalf("full reply: %+v", rep)
	}
	list, m := rep.List, rep.Map
	if err := st.SendRecvContext(ctxT(t), Sparse{}, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Name != "" || rep.List != nil || rep.Map != nil || rep.Ptr != nil {
		t.Fatalf("empty reply kept the previous one's fields: %+v", rep)
	}
	if list[0] != 1 || m["a"] != 1 {
		t.Fatalf("the second reply wrote into the first one's list or map: %v %v", list, m)
	}
}

// A receiver whose context ends while its reply arrives either has the
// reply (nil error, value set) or its context's error, and then the
// connection never writes its value afterwards. Several callers share the
// connection, so another one reading it may deliver an abandoned reply
// while the caller that gave up writes its value: the race detector sees
// any such write.
func TestRecvIntoCanceledCaller(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	e.serve(service.ScopeOS, func(s *service.Server) error { return s.Publish("test", "echo", Echo{}) })
	conn := e.dial(service.ScopeOS, "test", "echo")
	var got, canceled atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 400 {
				st := conn.NewStream()
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%40)*10*time.Microsecond)
				var rep EchoReply
				n := int32(g*1000 + i)
				err := st.SendRecvContext(ctx, Echo{Msg: "m", Num: n}, &rep)
				cancel()
				switch {
				case err == nil:
					if rep.Num != n || rep.Msg != "m" {
						t.Errorf("call %d: got %+v", n, rep)
						return
					}
					got.Add(1)
				case errors.Is(err, context.DeadlineExceeded):
					canceled.Add(1)
					// The caller owns its value again, while the stream is
					// still open and its reply may come.
					for k := range 50 {
						rep = EchoReply{Msg: "mine", Num: int32(k)}
						runtime.Gosched()
					}
					if rep.Msg != "mine" {
						t.Errorf("call %d: value written after the call returned: %+v", n, rep)
					}
				default:
					t.Errorf("call %d: %v", n, err)
					return
				}
				st.Close()
			}
		})
	}
	wg.Wait()
	t.Logf("%d answered, %d canceled", got.Load(), canceled.Load())
	// The connection still works.
	var rep EchoReply
	if err := conn.SendRecv(ctxT(t), Echo{Msg: "after"}, &rep); err != nil || rep.Msg != "after" {
		t.Fatalf("after: %v %+v", err, rep)
	}
}

// Several receivers on one stream: every message reaches exactly one of
// them, in a value of its own (one that takes a message decoded into
// another's destination gets a copy), with no race on either value; a nil
// destination is an error, not a panic.
func TestRecvIntoSharedStream(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	e.serve(service.ScopeOS, publishAll)
	conn := e.dial(service.ScopeOS, "test", "echo")
	st := conn.NewStream()
	defer st.Close()
	const n = 3000
	if err := st.Send(Tick{N: n}); err != nil {
		t.Fatal(err)
	}
	seen := make([]atomic.Int32, n)
	var total atomic.Int32
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for total.Load() < n {
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				var v TickValue
				err := st.RecvContext(ctx, &v)
				cancel()
				if errors.Is(err, context.DeadlineExceeded) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				if v.I < 0 || v.I >= n {
					t.Errorf("value %d out of range", v.I)
					return
				}
				seen[v.I].Add(1)
				total.Add(1)
				v.I = -1 // the receiver owns its value
			}
		})
	}
	wg.Wait()
	for i := range seen {
		if c := seen[i].Load(); c != 1 {
			t.Fatalf("value %d received %d times", i, c)
		}
	}
	if err := conn.Send(ctxT(t), Echo{Msg: "x"}); err != nil {
		t.Fatal(err)
	}
	if err := conn.Recv(ctxT(t), (*EchoReply)(nil)); err == nil {
		t.Fatal("Recv into a nil *EchoReply: no error")
	}
}
