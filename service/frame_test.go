package service_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/warren-mesh/warren/internal/testutil"
	"github.com/warren-mesh/warren/service"
	"github.com/warren-mesh/warren/service/codec"
)

// rawDial connects to test/echo's socket without the library.
func rawDial(t *testing.T, e *env) net.Conn {
	t.Helper()
	nc, err := net.Dial("unix", filepath.Join(e.dir, "test", "echo.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// readGoAway reads frames until a go-away and returns its message.
func readGoAway(t *testing.T, nc net.Conn) string {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	r := codec.NewReader(nc, 0)
	for {
		f, err := r.Next()
		if err != nil {
			t.Fatalf("no go-away before %v", err)
		}
		if f.Kind == codec.KindGoAway {
			var rec map[string]any
			if err := cbor.Unmarshal(f.Payload, &rec); err != nil {
				t.Fatal(err)
			}
			// After it, the server closes the connection.
			if _, err := r.Next(); err != io.EOF {
				t.Fatalf("after go-away: %v, want EOF", err)
			}
			m, _ := rec["m"].(string)
			return m
		}
	}
}

func TestBadFramesCloseConnection(t *testing.T) {
	raw := func(stream uint32, kind codec.Kind, typ string, payload []byte) []byte {
		var b bytes.Buffer
		codec.Append(&b, stream, kind, typ, payload, 0)
		return b.Bytes()
	}
	for _, tc := range []struct {
		name, want string
		data       []byte
	}{
		{"unknown type", "unknown type", raw(1, codec.KindMsg, "no.SuchType", []byte{0xa0})},
		{"oversized", "frame too large", []byte{0, 0x10, 0, 0, 0, 0, 0, 1, 1, 0}},
		{"bad kind", "malformed frame", raw(1, 9, "", nil)},
		{"bad payload", "malformed frame", raw(1, codec.KindMsg, "service_test.Echo", []byte{0xff, 0x00})},
		{"wrong payload type", "malformed frame", raw(1, codec.KindMsg, "service_test.Echo", []byte{0x01})},
		{"message on stream 0", "malformed frame", raw(0, codec.KindMsg, "service_test.Echo", []byte{0xa0})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testutil.VerifyNoLeaks(t)
			e := newEnv(t)
			e.serve(service.ScopeOS, publishAll, service.WithMaxFrameSize(1<<16))
			good := e.dial(service.ScopeOS, "test", "echo")
			nc := rawDial(t, e)
			if _, err := nc.Write(tc.data); err != nil {
				t.Fatal(err)
			}
			if msg := readGoAway(t, nc); !strings.Contains(msg, tc.want) {
				t.Errorf("go-away %q, want it to mention %q", msg, tc.want)
			}
			// Other connections are unaffected.
			var rep EchoReply
			if err := good.SendRecv(ctxT(t), Echo{Msg: "still"}, &rep); err != nil || rep.Msg != "still" {
				t.Fatalf("good connection: %v", err)
			}
		})
	}
}

// A well-formed exchange by hand: what a non-Go client would do.
func TestRawClient(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	e.serve(service.ScopeOS, publishAll)
	nc := rawDial(t, e)
	payload, _ := cbor.Marshal(map[string]any{"Msg": "from afar", "Num": 3})
	var b bytes.Buffer
	codec.Append(&b, 5, codec.KindMsg, "service_test.Echo", payload, 0)
	nc.Write(b.Bytes())
	nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	f, err := codec.NewReader(nc, 0).Next()
	if err != nil {
		t.Fatal(err)
	}
	var rep map[string]any
	if err := cbor.Unmarshal(f.Payload, &rep); err != nil {
		t.Fatal(err)
	}
	if f.Stream != 5 || f.Kind != codec.KindMsg || string(f.Type) != "service_test.EchoReply" || rep["Msg"] != "from afar" {
		t.Fatalf("reply %+v %v", f, rep)
	}
}

type Big struct{ Data []byte }

func (b Big) Handle(*service.Stream) any { return EchoReply{Num: int32(len(b.Data))} }

func init() { service.RegisterType(Big{}) }

func TestFrameLimits(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	e.serve(service.ScopeOS, func(s *service.Server) error { return s.Publish("test", "echo", Big{}) },
		service.WithMaxFrameSize(1<<16))
	ctx := ctxT(t)

	// The client's own limit fails the send locally; the connection lives on.
	c := service.NewClient(e.opts(service.ScopeOS, service.WithMaxFrameSize(1<<10))...)
	conn, err := c.Discover(ctx, "test", "echo")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var rep EchoReply
	if err := conn.SendRecv(ctx, Big{Data: make([]byte, 4096)}, &rep); !errors.Is(err, service.ErrFrameTooLarge) {
		t.Fatalf("local limit: %v", err)
	}
	if err := conn.SendRecv(ctx, Big{Data: make([]byte, 100)}, &rep); err != nil || rep.Num != 100 {
		t.Fatalf("after local limit: %v", err)
	}

	// The server's limit closes the connection, and the client learns why.
	conn2 := e.dial(service.ScopeOS, "test", "echo")
	err = conn2.SendRecv(ctx, Big{Data: make([]byte, 1<<17)}, &rep)
	if !errors.Is(err, service.ErrClosed) || !errors.Is(err, service.ErrFrameTooLarge) {
		t.Fatalf("remote limit: %v, want ErrClosed and ErrFrameTooLarge", err)
	}
	if err := conn2.SendRecv(context.Background(), Big{}, &rep); !errors.Is(err, service.ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

func TestUnregisteredType(t *testing.T) {
	type local struct{ X int }
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	e.serve(service.ScopeOS, publishAll)
	conn := e.dial(service.ScopeOS, "test", "echo")
	var rep EchoReply
	if err := conn.SendRecv(ctxT(t), local{}, &rep); !errors.Is(err, service.ErrNotRegistered) {
		t.Fatalf("got %v, want ErrNotRegistered", err)
	}
}

func TestTooManyStreams(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	e := newEnv(t)
	e.serve(service.ScopeOS, publishAll)
	nc := rawDial(t, e)
	// A stream opens with the first frame of a new ID; a message the service
	// does not handle is answered with an error and leaves it open.
	var b bytes.Buffer
	empty, _ := cbor.Marshal(struct{}{})
	for i := range service.MaxStreams + 1 {
		codec.Append(&b, uint32(i+1), codec.KindMsg, "service_test.EchoReply", empty, 0)
	}
	go func() { nc.Write(b.Bytes()) }()
	if msg := readGoAway(t, nc); !strings.Contains(msg, "open streams") {
		t.Fatalf("go-away %q", msg)
	}
}
