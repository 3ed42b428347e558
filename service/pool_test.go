package service_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/warren-mesh/warren/internal/testutil"
	"github.com/warren-mesh/warren/service"
)

func TestPoolGrowsAndShrinks(t *testing.T) {
	for _, sc := range scopes {
		t.Run(sc.name, func(t *testing.T) {
			testutil.VerifyNoLeaks(t)
			resetBlock()
			e := newEnv(t)
			srv := e.serve(sc.scope, publishAll, service.WithMaxWorkers(8), service.WithMinWorkers(1),
				service.WithWorkerIdleTimeout(20*time.Millisecond))
			conn := e.dial(sc.scope, "test", "echo")
			if s := srv.Stats(); s.Workers != 1 {
				t.Fatalf("start: %+v, want 1 worker (the minimum)", s)
			}
			// 12 blocked requests: the pool grows to its maximum, 4 wait.
			var streams []*service.Stream
			for i := range 12 {
				st := conn.NewStream()
				streams = append(streams, st)
				if err := st.Send(Block{ID: i}); err != nil {
					t.Fatal(err)
				}
			}
			testutil.Eventually(t, 20*time.Second, func() error {
				if s := srv.Stats(); s.Workers != 8 || s.Queued != 4 || s.Idle != 0 {
					return fmt.Errorf("stats %+v, want 8 workers, 4 queued", s)
				}
				return nil
			})
			releaseBlocked() // the running 8 finish and take the 4 waiting
			testutil.Eventually(t, 20*time.Second, func() error {
				if s := srv.Stats(); s.Queued != 0 || s.Handled < 12 {
					return fmt.Errorf("stats %+v", s)
				}
				return nil
			})
			got := map[int32]bool{}
			for _, st := range streams {
				var rep EchoReply
				if err := st.RecvContext(ctxT(t), &rep); err != nil {
					t.Fatal(err)
				}
				got[rep.Num] = true
				st.Close()
			}
			if len(got) != 12 {
				t.Fatalf("replies %v", got)
			}
			// Idle workers exit down to the minimum.
			testutil.Eventually(t, 20*time.Second, func() error {
				if s := srv.Stats(); s.Workers != 1 || s.Exited != s.Started-1 {
					return fmt.Errorf("stats %+v, want 1 worker left", s)
				}
				return nil
			})
		})
	}
}

// Prio records the order in which it is handled.
type Prio struct {
	P  int
	ID int
}

func (p Prio) Priority() int { return p.P }

var (
	prioMu    sync.Mutex
	prioOrder []int
)

func (p Prio) Handle(*service.Stream) any {
	prioMu.Lock()
	prioOrder = append(prioOrder, p.ID)
	prioMu.Unlock()
	return EchoReply{Num: int32(p.ID)}
}

func init() { service.RegisterType(Prio{}) }

func TestPriority(t *testing.T) {
	for _, sc := range scopes {
		t.Run(sc.name, func(t *testing.T) {
			testutil.VerifyNoLeaks(t)
			resetBlock()
			prioMu.Lock()
			prioOrder = nil
			prioMu.Unlock()
			e := newEnv(t)
			srv := e.serve(sc.scope, func(s *service.Server) error {
				return s.Publish("test", "echo", Block{}, Prio{})
			}, service.WithMaxWorkers(1))
			conn := e.dial(sc.scope, "test", "echo")
			blocker := conn.NewStream()
			defer blocker.Close()
			if err := blocker.Send(Block{}); err != nil {
				t.Fatal(err)
			}
			testutil.Eventually(t, 20*time.Second, func() error {
				if s := srv.Stats(); s.Workers != 1 || s.Idle != 0 || s.Queued != 0 {
					return fmt.Errorf("stats %+v", s)
				}
				return nil
			})
			// While the only worker is busy: low priorities first, then high.
			st := conn.NewStream()
			defer st.Close()
			for _, m := range []Prio{{0, 1}, {0, 2}, {-1, 3}, {5, 4}, {9, 5}, {5, 6}} {
				if err := st.Send(m); err != nil {
					t.Fatal(err)
				}
			}
			testutil.Eventually(t, 20*time.Second, func() error {
				if s := srv.Stats(); s.Queued != 6 {
					return fmt.Errorf("stats %+v, want 6 queued", s)
				}
				return nil
			})
			releaseBlocked()
			for range 6 {
				var rep EchoReply
				if err := st.RecvContext(ctxT(t), &rep); err != nil {
					t.Fatal(err)
				}
			}
			prioMu.Lock()
			defer prioMu.Unlock()
			if want := []int{5, 4, 6, 1, 2, 3}; !slices.Equal(prioOrder, want) {
				t.Fatalf("handled in order %v, want %v", prioOrder, want)
			}
		})
	}
}

var _ = context.Background
