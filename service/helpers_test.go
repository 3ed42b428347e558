package service_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/warren-mesh/warren/internal/testutil"
	"github.com/warren-mesh/warren/service"
	"github.com/warren-mesh/warren/service/discovery"
)

// Messages used by the tests.

type Echo struct {
	Msg string
	Num int32
}

func (e Echo) Handle(*service.Stream) any { return EchoReply{Msg: e.Msg, Num: e.Num} }

type EchoReply struct {
	Msg string
	Num int32
}

// Fail returns the error its Kind names.
type Fail struct{ Kind string }

var ErrBoom = errors.New("boom happened")

type CodeError struct {
	Code int
	Why  string
}

func (e *CodeError) Error() string { return fmt.Sprintf("code %d: %s", e.Code, e.Why) }

func (f Fail) Handle(*service.Stream) any {
	switch f.Kind {
	case "sentinel":
		return fmt.Errorf("doing it: %w", ErrBoom)
	case "typed":
		return &CodeError{Code: 42, Why: "because"}
	case "plain":
		return errors.New("plain failure")
	case "panic":
		panic("handler exploded")
	}
	return nil
}

// Who replies with the peer credentials the server saw.
type Who struct{}

type WhoReply struct {
	OK       bool
	UID, GID uint32
	PID      int32
}

func (Who) Handle(s *service.Stream) any {
	c, ok := s.PeerCred()
	return WhoReply{OK: ok, UID: c.UID, GID: c.GID, PID: c.PID}
}

// Block waits until its stream's context is canceled or Release is
// closed; it lets tests hold workers busy.
type Block struct{ ID int }

func (b Block) Handle(s *service.Stream) any {
	ch, _ := s.Value("release").(chan struct{})
	if ch == nil {
		ch = releaseFor(s)
	}
	select {
	case <-ch:
	case <-s.Context().Done():
	}
	return EchoReply{Num: int32(b.ID)}
}

func init() {
	service.RegisterType(Echo{}, EchoReply{}, Fail{}, &CodeError{}, Who{}, WhoReply{}, Block{})
	service.RegisterError(ErrBoom)
}

// env is one test's isolated world: its own process table and socket dir.
type env struct {
	t     *testing.T
	table *discovery.Table
	dir   string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir, err := os.MkdirTemp("", "wsvc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return &env{t: t, table: discovery.NewTable(), dir: dir}
}

func (e *env) opts(scope service.Scope, more ...service.Option) []service.Option {
	return append([]service.Option{
		service.WithScope(scope),
		service.WithProcessRegistry(e.table),
		service.WithSocketDir(e.dir),
		service.WithLogger(testLogger(e.t)),
	}, more...)
}

// serve starts a server with the given services and stops it at cleanup.
func (e *env) serve(scope service.Scope, publish func(*service.Server) error, more ...service.Option) *service.Server {
	e.t.Helper()
	srv := service.NewServer(e.opts(scope, more...)...)
	if err := publish(srv); err != nil {
		e.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background()) }()
	e.t.Cleanup(func() {
		// Only a hang waits this long: a server that has just torn down
		// TestTooManyStreams' 65 536 streams took over 10s to close under
		// -race on a loaded 2-core machine (1-2s with less load).
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			e.t.Errorf("close: %v", err)
		}
		if err := <-done; err != nil {
			e.t.Errorf("serve: %v", err)
		}
	})
	return srv
}

func (e *env) client(scope service.Scope, more ...service.Option) *service.Client {
	return service.NewClient(e.opts(scope, more...)...)
}

func (e *env) dial(scope service.Scope, publisher, name string) *service.Conn {
	e.t.Helper()
	conn, err := e.client(scope).Discover(context.Background(), publisher, name)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { conn.Close() })
	return conn
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var scopes = []struct {
	name  string
	scope service.Scope
}{{"process", service.ScopeProcess}, {"os", service.ScopeOS}}

func itoa(i int) string { return strconv.Itoa(i) }

// TestMain lets a test re-execute the test binary as a child server.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	os.Exit(m.Run())
}

var _ = testutil.Eventually
