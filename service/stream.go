package service

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"sync"
	"sync/atomic"
)

// KnownMessage is a message a service handles. Handle runs on the server's
// worker pool; a non-nil reply is sent back on the stream (an error value
// travels as an error). Handle may keep using the stream: s.Send pushes
// more values to the client, s.Recv waits for the client's next message
// that is not itself a known message.
type KnownMessage interface {
	Handle(s *Stream) (reply any)
}

// Prioritized is implemented by messages that carry a priority. Under load,
// when messages wait for a worker, higher priorities are handled first.
// The default priority is 0.
type Prioritized interface {
	Priority() int
}

// PeerCred is the kernel's account of who is at the other end of an OS
// scope connection.
type PeerCred struct {
	UID, GID uint32
	PID      int32
}

// Stream is one conversation inside a connection. On the client a Stream
// comes from Conn.NewStream; on the server each client stream has one
// Stream, passed to every Handle of the messages sent on it.
//
// A Stream may be used by one sending and one receiving goroutine at a
// time; SendRecv on one stream from several goroutines mixes up replies
// (use a stream each, or Conn.SendRecv, which is safe for concurrent use).
type Stream struct {
	id     uint32
	server bool
	in     inbox
	closed atomic.Bool

	wc *wireConn // byte-stream scopes

	peer *Stream   // Process scope: the other end
	pc   *procConn // Process scope: the connection

	svc     *service     // server side: the service this stream talks to
	active  atomic.Int32 // server side: handlers running on this stream
	mu      sync.Mutex
	ctx     context.Context
	cancel  context.CancelFunc
	parent  context.Context
	values  map[any]any
	credOK  bool
	cred    PeerCred
	lastErr error
}

func (s *Stream) init() { s.in.init() }

// Context is canceled when the stream or its connection closes (on the
// server also when the server closes). On a client stream it is canceled
// by Close.
func (s *Stream) Context() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx == nil {
		parent := s.parent
		if parent == nil {
			parent = context.Background()
		}
		s.ctx, s.cancel = context.WithCancel(parent)
		if s.closed.Load() {
			s.cancel()
		}
	}
	return s.ctx
}

// SetValue stores a value in the stream's context store (for the life of
// the stream; handlers of one stream share it).
func (s *Stream) SetValue(key, value any) {
	s.mu.Lock()
	if s.values == nil {
		s.values = make(map[any]any)
	}
	s.values[key] = value
	s.mu.Unlock()
}

// Value returns a value stored with SetValue, or nil.
func (s *Stream) Value(key any) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.values[key]
}

// PeerCred returns the client's uid, gid and pid on an OS scope server
// stream; ok is false in other scopes and on the client.
func (s *Stream) PeerCred() (PeerCred, bool) { return s.cred, s.credOK }

// Send sends v on the stream: from the client a request (handled by the
// server if v is one of the service's known messages, otherwise delivered
// to the server stream's Recv); from a handler a push to the client. An
// error value arrives at the client's Recv as an error.
func (s *Stream) Send(v any) error { return s.SendContext(context.Background(), v) }

// SendContext is Send with a context bounding any wait for buffer space.
func (s *Stream) SendContext(ctx context.Context, v any) error {
	if v == nil {
		return nil
	}
	if s.closed.Load() {
		return s.closedErr("send")
	}
	if s.wc != nil {
		return s.wc.sendValue(ctx, s.id, v)
	}
	if s.peer == nil {
		return s.closedErr("send")
	}
	if s.server {
		it := item{v: v}
		if e, ok := v.(error); ok {
			it = item{err: e}
		}
		if !s.peer.in.push(it) {
			return fmt.Errorf("service: send: %w", ErrStreamClosed)
		}
		return nil
	}
	_, _, err := s.pc.svc.deliver(s.peer, v, false, false)
	return err
}

// Recv waits for the next value on the stream and stores it in the value
// v points to (a pointer to the sent type, or *any). An error reply is
// returned as the error. It returns io.EOF after the other side closed the
// stream and everything it sent has been received.
func (s *Stream) Recv(v any) error { return s.RecvContext(context.Background(), v) }

// RecvContext is Recv bounded by ctx.
func (s *Stream) RecvContext(ctx context.Context, v any) error {
	var it item
	var err error
	if s.wc != nil && !s.server {
		it, err = s.wc.recv(ctx, s, v)
	} else {
		if s.server && s.wc != nil && !s.in.ready() {
			s.wc.yieldReader(s) // the handler may be running on the reader
		}
		it, err = s.in.pop(ctx)
	}
	if err != nil {
		return err
	}
	if it.err != nil {
		return it.err
	}
	if it.into {
		return nil // decoded into v already
	}
	return assign(v, it)
}

// SendRecv sends req and waits for the next value (its reply).
func (s *Stream) SendRecv(req, reply any) error {
	return s.SendRecvContext(context.Background(), req, reply)
}

// SendRecvContext is SendRecv bounded by ctx.
func (s *Stream) SendRecvContext(ctx context.Context, req, reply any) error {
	if err := s.SendContext(ctx, req); err != nil {
		return err
	}
	return s.RecvContext(ctx, reply)
}

// Close ends the stream. On the client the server's stream sees io.EOF
// from Recv and its context is canceled; on the server the client's Recv
// returns io.EOF once it has read what was sent before.
func (s *Stream) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.cancelCtx()
	if s.wc != nil {
		s.wc.dropStream(s)
		s.in.discard(fmt.Errorf("service: %w", ErrStreamClosed))
		return s.wc.sendClose(s.id)
	}
	if s.peer != nil {
		s.peer.remoteClosed()
	}
	if !s.server {
		s.in.discard(fmt.Errorf("service: %w", ErrStreamClosed))
		if s.pc != nil {
			s.pc.drop(s)
		}
	}
	return nil
}

// remoteClosed is called when the other side closed the stream.
func (s *Stream) remoteClosed() {
	s.closed.Store(true)
	s.in.close(io.EOF)
	s.cancelCtx()
}

// connClosed is called when the connection died under the stream.
func (s *Stream) connClosed(err error) {
	s.mu.Lock()
	s.lastErr = err
	s.mu.Unlock()
	s.closed.Store(true)
	s.in.close(err)
	s.cancelCtx()
}

func (s *Stream) cancelCtx() {
	s.mu.Lock()
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Unlock()
}

func (s *Stream) closedErr(op string) error {
	s.mu.Lock()
	err := s.lastErr
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("service: %s: %w", op, err)
	}
	return fmt.Errorf("service: %s: %w", op, ErrStreamClosed)
}

// assign stores the item's value into the variable dst points to.
func assign(dst any, it item) error {
	if p, ok := dst.(*any); ok {
		*p = it.value()
		return nil
	}
	if dst == nil {
		return nil // caller does not want the value
	}
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("service: recv: need a non-nil pointer, got %T", dst)
	}
	ev := rv.Elem()
	if it.ptr {
		// v points to a decoded T: copy it out, or hand over the pointer
		// to a *T destination.
		vp := reflect.ValueOf(it.v)
		vv, et := vp.Elem(), ev.Type()
		switch {
		case vv.Type().AssignableTo(et):
			ev.Set(vv)
		case et.Kind() == reflect.Pointer && vv.Type().AssignableTo(et.Elem()):
			ev.Set(vp)
		default:
			return fmt.Errorf("service: recv: got %s, want %s", vv.Type(), et)
		}
		return nil
	}
	v := it.v
	vv := reflect.ValueOf(v)
	vt, et := vv.Type(), ev.Type()
	switch {
	case vt.AssignableTo(et):
		ev.Set(vv)
	case vt.Kind() == reflect.Pointer && vt.Elem().AssignableTo(et):
		if vv.IsNil() {
			ev.SetZero()
		} else {
			ev.Set(vv.Elem())
		}
	case et.Kind() == reflect.Pointer && vt.AssignableTo(et.Elem()):
		n := reflect.New(et.Elem())
		n.Elem().Set(vv)
		ev.Set(n)
	default:
		return fmt.Errorf("service: recv: got %T, want %s", v, et)
	}
	return nil
}
