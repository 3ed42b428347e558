package service_test

import (
	"errors"
	"testing"

	"github.com/warren-mesh/warren/internal/testutil"
	"github.com/warren-mesh/warren/service"
	"github.com/warren-mesh/warren/service/discovery"
	"github.com/warren-mesh/warren/service/transport"
)

// The in-memory transport stands in for a byte-stream scope: here the LAN
// scope, which has no real backend yet.
func TestMemTransportBackend(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	reg, mem := discovery.NewTable(), &transport.Mem{}
	be := service.WithBackend(service.ScopeLAN, reg, mem)
	e.serve(service.ScopeLAN, publishAll, be)
	conn, err := service.NewClient(e.opts(service.ScopeAll, be)...).Discover(ctxT(t), "test", "echo")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if conn.Scope() != service.ScopeLAN {
		t.Fatalf("scope %s", conn.Scope())
	}
	var rep EchoReply
	if err := conn.SendRecv(ctxT(t), Echo{Msg: "mem"}, &rep); err != nil || rep.Msg != "mem" {
		t.Fatalf("%v %+v", err, rep)
	}
	if err := conn.SendRecv(ctxT(t), Fail{Kind: "sentinel"}, &rep); !errors.Is(err, ErrBoom) {
		t.Fatalf("error over mem: %v", err)
	}
}

func TestScopeWithoutBackend(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	srv := service.NewServer(e.opts(service.ScopeWAN | service.ScopeProcess)...)
	defer srv.Close(ctxT(t))
	if err := srv.Publish("test", "echo", Echo{}); !errors.Is(err, service.ErrScope) {
		t.Fatalf("got %v, want ErrScope", err)
	}
	// Nothing stays registered after the failed publish.
	if _, err := e.client(service.ScopeProcess).Discover(ctxT(t), "test", "echo"); !errors.Is(err, service.ErrNotFound) {
		t.Fatalf("discover: %v", err)
	}
}
