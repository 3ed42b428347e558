package service_test

import (
	"fmt"
	"testing"

	"github.com/warren-mesh/warren/internal/testutil"
	"github.com/warren-mesh/warren/service"
)

// Converse makes its handler talk with the client on its own stream: for
// each round it sends the round number and waits (Recv) for the client's
// answer, so it waits for a frame that only the connection's reader can
// bring, while it may be running on that very reader.
type Converse struct{ Rounds int32 }

func (c Converse) Handle(s *service.Stream) any {
	sum := int32(0)
	for i := range c.Rounds {
		if err := s.Send(EchoReply{Num: i}); err != nil {
			return err
		}
		var m Answer
		if err := s.Recv(&m); err != nil {
			return err
		}
		sum += m.N
	}
	return EchoReply{Msg: "done", Num: sum}
}

// Answer is the client's side of a Converse: a plain value, not a known
// message, so it goes to the handler's Recv.
type Answer struct{ N int32 }

func init() { service.RegisterType(Converse{}, Answer{}) }

// TestHandlerWaitsOnItsOwnStream: a handler that Recv's on its stream
// (run inline on the reader when the pool allows) must not stall its own
// conversation or anyone else's on the connection.
func TestHandlerWaitsOnItsOwnStream(t *testing.T) {
	for _, sc := range scopes {
		t.Run(sc.name, func(t *testing.T) {
			testutil.VerifyNoLeaks(t)
			e := newEnv(t)
			e.serve(sc.scope, func(s *service.Server) error { return s.Publish("test", "talk", Converse{}, Echo{}) })
			conn := e.dial(sc.scope, "test", "talk")
			ctx := ctxT(t)
			for conv := range 20 {
				st := conn.NewStream()
				if err := st.SendContext(ctx, Converse{Rounds: 10}); err != nil {
					t.Fatal(err)
				}
				want := int32(0)
				for i := range int32(10) {
					var r EchoReply
					if err := st.RecvContext(ctx, &r); err != nil || r.Num != i {
						t.Fatalf("conversation %d round %d: %v, got %+v", conv, i, err, r)
					}
					// meanwhile another stream of the connection is served
					var o EchoReply
					if err := conn.SendRecv(ctx, Echo{Num: 100 + i}, &o); err != nil || o.Num != 100+i {
						t.Fatalf("other stream during conversation %d: %v, got %+v", conv, err, o)
					}
					if err := st.SendContext(ctx, Answer{N: i * 3}); err != nil {
						t.Fatal(err)
					}
					want += i * 3
				}
				var end EchoReply
				if err := st.RecvContext(ctx, &end); err != nil || end.Msg != "done" || end.Num != want {
					t.Fatalf("conversation %d end: %v, got %+v want sum %d", conv, err, end, want)
				}
				st.Close()
			}
		})
	}
}

// TestBlockedHandlerDoesNotStallConnection: while one stream's handler is
// blocked (it may have started inline on the reader), the connection's
// other streams keep being served.
func TestBlockedHandlerDoesNotStallConnection(t *testing.T) {
	for _, sc := range scopes {
		t.Run(sc.name, func(t *testing.T) {
			testutil.VerifyNoLeaks(t)
			resetBlock()
			e := newEnv(t)
			e.serve(sc.scope, publishAll)
			conn := e.dial(sc.scope, "test", "echo")
			ctx := ctxT(t)
			blocked := conn.NewStream()
			defer blocked.Close()
			if err := blocked.SendContext(ctx, Block{ID: 7}); err != nil {
				t.Fatal(err)
			}
			for i := range int32(50) {
				var rep EchoReply
				if err := conn.SendRecv(ctx, Echo{Num: i}, &rep); err != nil || rep.Num != i {
					t.Fatalf("call %d while a handler is blocked: %v, got %+v", i, err, rep)
				}
			}
			releaseBlocked()
			var rep EchoReply
			if err := blocked.RecvContext(ctx, &rep); err != nil || rep.Num != 7 {
				t.Fatal(fmt.Errorf("blocked handler's reply: %v, got %+v", err, rep))
			}
		})
	}
}
