package service_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/warren-mesh/warren/internal/testutil"
	"github.com/warren-mesh/warren/service"
	"github.com/warren-mesh/warren/service/discovery"
)

func publishAll(srv *service.Server) error {
	return srv.Publish("test", "echo", Echo{}, Fail{}, Who{}, Block{}, Tick{})
}

func TestEcho(t *testing.T) {
	for _, sc := range scopes {
		t.Run(sc.name, func(t *testing.T) {
			testutil.VerifyNoLeaks(t)
			e := newEnv(t)
			srv := e.serve(sc.scope, publishAll, service.WithProviderID("aaaaaaaaaaaa"))
			conn := e.dial(sc.scope, "test", "echo")
			if conn.Scope() != sc.scope || conn.ProviderID() != srv.ProviderID() {
				t.Fatalf("conn scope %s provider %s, want %s %s", conn.Scope(), conn.ProviderID(), sc.scope, srv.ProviderID())
			}
			ctx := ctxT(t)
			var rep EchoReply
			if err := conn.SendRecv(ctx, Echo{Msg: "hi", Num: 7}, &rep); err != nil {
				t.Fatal(err)
			}
			if rep != (EchoReply{Msg: "hi", Num: 7}) {
				t.Fatalf("reply %+v", rep)
			}
			// Send and Recv on the default stream; reply into *any.
			if err := conn.Send(ctx, Echo{Msg: "x", Num: 1}); err != nil {
				t.Fatal(err)
			}
			var anyRep any
			if err := conn.Recv(ctx, &anyRep); err != nil {
				t.Fatal(err)
			}
			if anyRep != (EchoReply{Msg: "x", Num: 1}) {
				t.Fatalf("reply %#v", anyRep)
			}
			// Reply into a pointer variable.
			var pRep *EchoReply
			if err := conn.SendRecv(ctx, Echo{Msg: "p"}, &pRep); err != nil || pRep.Msg != "p" {
				t.Fatalf("pointer reply %v %v", pRep, err)
			}
		})
	}
}

func TestHandlerErrors(t *testing.T) {
	for _, sc := range scopes {
		t.Run(sc.name, func(t *testing.T) {
			testutil.VerifyNoLeaks(t)
			e := newEnv(t)
			e.serve(sc.scope, publishAll)
			conn := e.dial(sc.scope, "test", "echo")
			ctx := ctxT(t)
			var rep EchoReply

			err := conn.SendRecv(ctx, Fail{Kind: "sentinel"}, &rep)
			if !errors.Is(err, ErrBoom) || !strings.Contains(err.Error(), "doing it") {
				t.Errorf("sentinel: got %v, want wrapping ErrBoom", err)
			}
			err = conn.SendRecv(ctx, Fail{Kind: "typed"}, &rep)
			var ce *CodeError
			if !errors.As(err, &ce) || ce.Code != 42 || ce.Why != "because" {
				t.Errorf("typed: got %v (%T), want *CodeError 42", err, err)
			}
			err = conn.SendRecv(ctx, Fail{Kind: "plain"}, &rep)
			if err == nil || err.Error() != "plain failure" {
				t.Errorf("plain: got %v", err)
			}
			// A panic fails that request only; the server keeps serving.
			err = conn.SendRecv(ctx, Fail{Kind: "panic"}, &rep)
			if !errors.Is(err, service.ErrHandlerPanic) || !strings.Contains(err.Error(), "handler exploded") {
				t.Errorf("panic: got %v", err)
			}
			if err := conn.SendRecv(ctx, Echo{Msg: "after"}, &rep); err != nil || rep.Msg != "after" {
				t.Errorf("after panic: %v %+v", err, rep)
			}
			// A registered type the service does not handle.
			err = conn.SendRecv(ctx, EchoReply{Msg: "?"}, &rep)
			if !errors.Is(err, service.ErrUnknownMsg) {
				t.Errorf("unknown message: got %v", err)
			}
		})
	}
}

func TestPeerCred(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	e.serve(service.ScopeOS|service.ScopeProcess, publishAll)
	ctx := ctxT(t)
	var w WhoReply
	if err := e.dial(service.ScopeOS, "test", "echo").SendRecv(ctx, Who{}, &w); err != nil {
		t.Fatal(err)
	}
	if !w.OK || w.UID != uint32(os.Getuid()) || w.GID != uint32(os.Getgid()) || w.PID != int32(os.Getpid()) {
		t.Errorf("OS peer cred %+v, want uid %d gid %d pid %d", w, os.Getuid(), os.Getgid(), os.Getpid())
	}
	if err := e.dial(service.ScopeProcess, "test", "echo").SendRecv(ctx, Who{}, &w); err != nil {
		t.Fatal(err)
	}
	if w.OK {
		t.Errorf("process scope peer cred reported ok: %+v", w)
	}
}

func TestAllowedUIDs(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	e.serve(service.ScopeOS, publishAll, service.WithAllowedUIDs(uint32(os.Getuid())+1))
	conn := e.dial(service.ScopeOS, "test", "echo")
	var rep EchoReply
	err := conn.SendRecv(ctxT(t), Echo{}, &rep)
	if !errors.Is(err, service.ErrClosed) {
		t.Fatalf("refused peer: got %v, want ErrClosed", err)
	}
}

func TestSocketModes(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	e.serve(service.ScopeOS, publishAll)
	for path, want := range map[string]os.FileMode{
		e.dir:                        0o700,
		filepath.Join(e.dir, "test"): 0o700,
		filepath.Join(e.dir, "test", "echo.sock"): 0o600,
		filepath.Join(e.dir, "test", "echo.lock"): 0o600,
	} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %o, want %o", path, st.Mode().Perm(), want)
		}
	}
}

func TestNames(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	srv := service.NewServer(e.opts(service.ScopeProcess)...)
	defer srv.Close(context.Background())
	c := e.client(service.ScopeProcess)
	for _, tc := range []struct{ pub, name string }{
		{"", "x"}, {"x", ""}, {"a/b", "x"}, {"x", "a b"}, {"x", "tab\there"}, {"x", "nl\n"},
		{"x", "bell\a"}, {"x", "."}, {"..", "x"}, {"x", strings.Repeat("n", 65)}, {"x", "\xff"},
	} {
		err := srv.Publish(tc.pub, tc.name, Echo{})
		if !errors.Is(err, service.ErrInvalidName) {
			t.Errorf("Publish(%q, %q) = %v, want ErrInvalidName", tc.pub, tc.name, err)
		}
		if _, err := c.Discover(context.Background(), tc.pub, tc.name); !errors.Is(err, service.ErrInvalidName) {
			t.Errorf("Discover(%q, %q) = %v, want ErrInvalidName", tc.pub, tc.name, err)
		}
	}
	if err := srv.Publish("good-pub", "svc.v1_ok", Echo{}); err != nil {
		t.Errorf("valid name refused: %v", err)
	}
	if err := srv.Publish("x", "y", EchoReply{}); err == nil {
		t.Errorf("publishing a type without Handle succeeded")
	}
}

func TestNameTaken(t *testing.T) {
	for _, sc := range scopes {
		t.Run(sc.name, func(t *testing.T) {
			testutil.VerifyNoLeaks(t)
			e := newEnv(t)
			e.serve(sc.scope, publishAll, service.WithProviderID("111111111111"))
			srv2 := service.NewServer(e.opts(sc.scope, service.WithProviderID("222222222222"))...)
			defer srv2.Close(context.Background())
			err := srv2.Publish("test", "echo", Echo{})
			var te *discovery.TakenError
			if !errors.Is(err, service.ErrNameTaken) || !errors.As(err, &te) || te.Holder.ProviderID != "111111111111" {
				t.Fatalf("got %v, want name taken by 111111111111", err)
			}
			if !strings.Contains(err.Error(), "111111111111") {
				t.Errorf("error %q does not name the holder", err)
			}
		})
	}
}

func TestDiscoverAbsentTimeoutZero(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	c := e.client(service.ScopeAll) // LAN and WAN have no backend: skipped
	// A context that would fail the call if Discover waited at all.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := c.Discover(ctx, "test", "absent")
	if !errors.Is(err, service.ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
	if ctx.Err() != nil {
		t.Fatal("discover waited for the context")
	}
}

func TestDiscoverWaitsForServer(t *testing.T) {
	for _, sc := range scopes {
		t.Run(sc.name, func(t *testing.T) {
			testutil.VerifyNoLeaks(t)
			e := newEnv(t)
			c := e.client(sc.scope, service.WithDiscoverTimeout(-1))
			ctx := ctxT(t)
			type result struct {
				conn *service.Conn
				err  error
			}
			got := make(chan result, 1)
			started := make(chan struct{})
			go func() {
				close(started)
				conn, err := c.Discover(ctx, "test", "echo")
				got <- result{conn, err}
			}()
			<-started
			e.serve(sc.scope, publishAll)
			r := <-got
			if r.err != nil {
				t.Fatal(r.err)
			}
			defer r.conn.Close()
			var rep EchoReply
			if err := r.conn.SendRecv(ctx, Echo{Msg: "late"}, &rep); err != nil || rep.Msg != "late" {
				t.Fatalf("%v %+v", err, rep)
			}
		})
	}
}

func TestDiscoverTimeout(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	c := e.client(service.ScopeOS|service.ScopeProcess, service.WithDiscoverTimeout(50*time.Millisecond))
	if _, err := c.Discover(context.Background(), "test", "never"); !errors.Is(err, service.ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
}

func TestStreamsNoCrossTalk(t *testing.T) {
	for _, sc := range scopes {
		t.Run(sc.name, func(t *testing.T) {
			testutil.VerifyNoLeaks(t)
			e := newEnv(t)
			e.serve(sc.scope, publishAll)
			conn := e.dial(sc.scope, "test", "echo")
			ctx := ctxT(t)
			var wg sync.WaitGroup
			errs := make(chan error, 100)
			for s := range 100 {
				wg.Go(func() {
					st := conn.NewStream()
					defer st.Close()
					for i := range 10 {
						want := EchoReply{Msg: "s" + itoa(s) + "-" + itoa(i), Num: int32(s*1000 + i)}
						var got EchoReply
						if err := st.SendRecvContext(ctx, Echo{Msg: want.Msg, Num: want.Num}, &got); err != nil {
							errs <- err
							return
						}
						if got != want {
							errs <- errors.New("cross-talk: got " + got.Msg + " want " + want.Msg)
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

func TestConcurrentConnSendRecv(t *testing.T) {
	for _, sc := range scopes {
		t.Run(sc.name, func(t *testing.T) {
			testutil.VerifyNoLeaks(t)
			e := newEnv(t)
			e.serve(sc.scope, publishAll)
			conn := e.dial(sc.scope, "test", "echo")
			ctx := ctxT(t)
			var wg sync.WaitGroup
			errs := make(chan error, 32)
			for g := range 32 {
				wg.Go(func() {
					for i := range 50 {
						n := int32(g*100 + i)
						var got EchoReply
						if err := conn.SendRecv(ctx, Echo{Num: n}, &got); err != nil || got.Num != n {
							errs <- errors.New("mismatch or error")
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

func TestServerPush(t *testing.T) {
	for _, sc := range scopes {
		t.Run(sc.name, func(t *testing.T) {
			testutil.VerifyNoLeaks(t)
			e := newEnv(t)
			e.serve(sc.scope, publishAll)
			conn := e.dial(sc.scope, "test", "echo")
			ctx := ctxT(t)
			st := conn.NewStream()
			defer st.Close()
			if err := st.Send(Tick{N: 5}); err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				var v TickValue
				if err := st.RecvContext(ctx, &v); err != nil || v.I != i {
					t.Fatalf("push %d: %v %+v", i, err, v)
				}
			}
			// An endless ticker stops when the client closes its stream.
			st2 := conn.NewStream()
			if err := st2.Send(Tick{}); err != nil {
				t.Fatal(err)
			}
			var v TickValue
			if err := st2.RecvContext(ctx, &v); err != nil {
				t.Fatal(err)
			}
			st2.Close()
			if err := st2.RecvContext(ctx, &v); !errors.Is(err, service.ErrStreamClosed) {
				t.Fatalf("recv after close: %v", err)
			}
		})
	}
}

func TestServerCloseFailsClients(t *testing.T) {
	for _, sc := range scopes {
		t.Run(sc.name, func(t *testing.T) {
			testutil.VerifyNoLeaks(t)
			e := newEnv(t)
			srv := service.NewServer(e.opts(sc.scope)...)
			if err := publishAll(srv); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- srv.Serve(ctx) }()
			conn := e.dial(sc.scope, "test", "echo")
			st := conn.NewStream()
			if err := st.Send(Tick{}); err != nil {
				t.Fatal(err)
			}
			var v TickValue
			if err := st.RecvContext(ctxT(t), &v); err != nil {
				t.Fatal(err)
			}
			cancel() // Serve shuts the server down
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			for {
				err := st.RecvContext(ctxT(t), &v)
				if err == nil {
					continue // ticks sent before the close
				}
				if !errors.Is(err, service.ErrClosed) {
					t.Fatalf("got %v, want ErrClosed", err)
				}
				break
			}
			if _, err := e.client(sc.scope).Discover(context.Background(), "test", "echo"); !errors.Is(err, service.ErrNotFound) {
				t.Fatalf("discover after close: %v", err)
			}
		})
	}
}

func TestScopeString(t *testing.T) {
	for s, want := range map[service.Scope]string{
		service.ScopeProcess: "---P", service.ScopeOS | service.ScopeProcess: "--OP",
		service.ScopeAll: "WLOP", service.ScopeWAN | service.ScopeLAN: "WL--", 0: "----",
	} {
		if s.String() != want {
			t.Errorf("%d: %q, want %q", s, s.String(), want)
		}
		if s != 0 {
			if p, err := service.ParseScope(want); err != nil || p != s {
				t.Errorf("ParseScope(%q) = %v, %v", want, p, err)
			}
		}
	}
	if _, err := service.ParseScope("X"); err == nil {
		t.Error("ParseScope(X) succeeded")
	}
}

func TestList(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	e.serve(service.ScopeOS|service.ScopeProcess, func(s *service.Server) error {
		if err := s.Publish("warren", "daemon", Echo{}); err != nil {
			return err
		}
		return s.Publish("test", "echo", Echo{})
	}, service.WithProviderID("abcdefabcdef"))
	e.serve(service.ScopeOS, func(s *service.Server) error {
		return s.Publish("test", "other", Echo{})
	}, service.WithProviderID("0123456789ab"))
	c := e.client(service.ScopeAll)
	all, err := c.List(ctxT(t), "")
	if err != nil {
		t.Fatal(err)
	}
	want := []service.ServiceInfo{
		{Publisher: "test", Service: "echo", ProviderID: "abcdefabcdef", Scopes: service.ScopeOS | service.ScopeProcess},
		{Publisher: "test", Service: "other", ProviderID: "0123456789ab", Scopes: service.ScopeOS},
		{Publisher: "warren", Service: "daemon", ProviderID: "abcdefabcdef", Scopes: service.ScopeOS | service.ScopeProcess},
	}
	if len(all) != len(want) {
		t.Fatalf("list: %+v", all)
	}
	for i := range want {
		if all[i] != want[i] {
			t.Errorf("list[%d] = %+v, want %+v", i, all[i], want[i])
		}
	}
	for pat, n := range map[string]int{"test/*": 2, "warren/daemon": 1, "echo": 1, "*/o*": 1, "nope/*": 0} {
		got, err := c.List(ctxT(t), pat)
		if err != nil || len(got) != n {
			t.Errorf("List(%q) = %+v, %v; want %d", pat, got, err, n)
		}
	}
}

func TestDiscoverAll(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	// Two providers of one name: one in Process scope, one in OS scope
	// (a name is unique within a scope).
	e.serve(service.ScopeProcess, publishAll, service.WithProviderID("aaaaaaaaaaaa"))
	e.serve(service.ScopeOS, publishAll, service.WithProviderID("bbbbbbbbbbbb"))
	conns, err := e.client(service.ScopeAll).DiscoverAll(ctxT(t), "test", "echo")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if len(conns) != 2 || conns[0].ProviderID() != "aaaaaaaaaaaa" || conns[0].Scope() != service.ScopeProcess ||
		conns[1].ProviderID() != "bbbbbbbbbbbb" || conns[1].Scope() != service.ScopeOS {
		for _, c := range conns {
			t.Logf("conn %s %s", c.ProviderID(), c.Scope())
		}
		t.Fatalf("want aaaa (P) then bbbb (O)")
	}
}

func TestTwoProcesses(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	// The parent publishes test/parent; the child publishes test/child and
	// checks 10 000 echoes to the parent while the parent does the same.
	e.serve(service.ScopeOS, func(s *service.Server) error { return s.Publish("test", "parent", Echo{}) })
	ch := startChild(t, "peer", e.dir)
	c := e.client(service.ScopeOS, service.WithDiscoverTimeout(20*time.Second))
	if err := exchange(t.Context(), c, "child", 10000); err != nil {
		t.Fatal(err)
	}
	ch.expect(t, "ok")
}

func TestServerKilledMidStream(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	ch := startChild(t, "serve", e.dir)
	conn := e.dial(service.ScopeOS, "test", "child")
	st := conn.NewStream()
	if err := st.Send(Tick{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var v TickValue
	for range 3 {
		if err := st.RecvContext(ctx, &v); err != nil {
			t.Fatal(err)
		}
	}
	if err := ch.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for {
		err := st.RecvContext(ctx, &v)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			t.Fatal("client hung after the server died")
		}
		if !errors.Is(err, service.ErrClosed) {
			t.Fatalf("got %v, want ErrClosed", err)
		}
		break
	}
	// A new server takes the name over despite the stale socket.
	ch.wait(t)
	e.serve(service.ScopeOS, func(s *service.Server) error { return s.Publish("test", "child", Echo{}) })
	var rep EchoReply
	if err := e.dial(service.ScopeOS, "test", "child").SendRecv(ctx, Echo{Msg: "again"}, &rep); err != nil || rep.Msg != "again" {
		t.Fatalf("after takeover: %v %+v", err, rep)
	}
}

var _ = io.EOF

// A Recv abandoned by its context leaves the connection usable: the client
// reads on the waiting goroutine, so the read is interrupted with a
// deadline and resumed by the next reader.
func TestRecvContextCancel(t *testing.T) {
	for _, sc := range scopes {
		t.Run(sc.name, func(t *testing.T) {
			testutil.VerifyNoLeaks(t)
			resetBlock()
			e := newEnv(t)
			e.serve(sc.scope, publishAll)
			conn := e.dial(sc.scope, "test", "echo")
			for i := range 4 {
				// At once, or once the caller is blocked reading.
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i)*10*time.Millisecond)
				var rep EchoReply
				err := conn.SendRecv(ctx, Block{ID: 1}, &rep)
				cancel()
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("got %v, want context.DeadlineExceeded", err)
				}
			}
			releaseBlocked() // the abandoned handlers reply to closed streams
			var rep EchoReply
			for i := range 20 {
				if err := conn.SendRecv(ctxT(t), Echo{Num: int32(i)}, &rep); err != nil || rep.Num != int32(i) {
					t.Fatalf("after cancel: %v %+v", err, rep)
				}
			}
		})
	}
}

// Slow takes longer than the inline budget, so the server's reader hands
// reading over to a new goroutine while it runs.
type Slow struct{ N int32 }

func (s Slow) Handle(*service.Stream) any {
	time.Sleep(300 * time.Microsecond)
	return EchoReply{Num: s.N}
}

func init() { service.RegisterType(Slow{}) }

func TestSlowHandlersHandOverReading(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	e.serve(service.ScopeOS, func(s *service.Server) error { return s.Publish("test", "echo", Slow{}, Echo{}) })
	conn := e.dial(service.ScopeOS, "test", "echo")
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for g := range 40 {
		wg.Go(func() {
			st := conn.NewStream()
			defer st.Close()
			for i := range 25 {
				n := int32(g*1000 + i)
				var rep EchoReply
				var msg any = Slow{N: n}
				if i%2 == 1 {
					msg = Echo{Num: n}
				}
				if err := st.SendRecvContext(ctx, msg, &rep); err != nil || rep.Num != n {
					errs <- fmt.Errorf("stream %d call %d: %v, got %d", g, i, err, rep.Num)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
