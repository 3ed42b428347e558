package service

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/warren-mesh/warren/service/codec"
	"github.com/warren-mesh/warren/service/discovery"
)

type fuzzMsg struct {
	A string
	B []int
	C map[string]float64
}

func (m fuzzMsg) Handle(*Stream) any { return m }

func fuzzFrame(stream uint32, kind codec.Kind, typ string, v any) []byte {
	var b bytes.Buffer
	start, _ := codec.Begin(&b, stream, kind, typ)
	if v != nil {
		if err := encMode.MarshalToBuffer(v, &b); err != nil {
			panic(err)
		}
	}
	if err := codec.End(&b, start, 0); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// FuzzServerConn feeds arbitrary bytes to a server connection's reader, as
// a hostile OS scope client would: the connection must close (or keep
// serving) without a panic or a hang.
func FuzzServerConn(f *testing.F) {
	RegisterType(fuzzMsg{})
	f.Add(fuzzFrame(1, codec.KindMsg, "service.fuzzMsg", fuzzMsg{A: "x", B: []int{1}, C: map[string]float64{"k": 1}}))
	f.Add(fuzzFrame(1, codec.KindMsg, "service.fuzzMsg", "wrong shape"))
	f.Add(fuzzFrame(1, codec.KindMsg, "no.SuchType", nil))
	f.Add(append(fuzzFrame(3, codec.KindMsg, "int", 5), fuzzFrame(3, codec.KindClose, "", nil)...))
	f.Add(fuzzFrame(2, codec.KindErr, "", errRecord{Msg: "m", Sentinel: "boom", Type: "int", Value: []byte{0x01}}))
	f.Add(fuzzFrame(0, codec.KindGoAway, "", errRecord{Msg: "bye"}))
	f.Add([]byte{0, 0, 0, 6, 0, 0, 0, 1, 1, 0})
	srv := NewServer(WithScope(ScopeProcess), WithProcessRegistry(discovery.NewTable()))
	if err := srv.Publish("fuzz", "svc", fuzzMsg{}); err != nil {
		f.Fatal(err)
	}
	defer srv.Close(context.Background())
	sv := srv.services["fuzz/svc"]
	log := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, data []byte) {
		a, b := net.Pipe()
		wc := newWireConn(a, log, 4096, sv)
		wc.start()
		done := make(chan struct{})
		go func() { // drain replies and go-away frames
			defer close(done)
			io.Copy(io.Discard, b)
		}()
		b.Write(data)
		wc.close(ErrClosed)
		wc.wait()
		b.Close()
		<-done
	})
}

// FuzzClientConn is FuzzServerConn for the client side: a hostile server.
func FuzzClientConn(f *testing.F) {
	RegisterType(fuzzMsg{})
	f.Add(fuzzFrame(1, codec.KindMsg, "service.fuzzMsg", fuzzMsg{A: "x"}))
	f.Add(fuzzFrame(1, codec.KindErr, "", errRecord{Msg: "m", Type: "service.fuzzMsg", Value: []byte{0xa0}}))
	f.Add(fuzzFrame(1, codec.KindClose, "", nil))
	f.Add(fuzzFrame(0, codec.KindGoAway, "", []byte{1, 2}))
	log := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, data []byte) {
		a, b := net.Pipe()
		wc := newWireConn(a, log, 4096, nil)
		wc.start()
		st := wc.newStream() // stream 1 exists, so frames for it are decoded
		done := make(chan struct{})
		go func() {
			defer close(done)
			io.Copy(io.Discard, b)
		}()
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			b.Write(data)
			b.Close()
		}()
		// The client reads on the goroutine that receives.
		var v any
		for st.Recv(&v) == nil {
		}
		wc.close(ErrClosed) // unblocks the writer if Recv ended early
		<-wrote
		wc.wait()
		<-done
	})
}
