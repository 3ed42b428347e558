package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"runtime/debug"
	"sync"

	"github.com/warren-mesh/warren/internal/logging"
	"github.com/warren-mesh/warren/service/discovery"
	"github.com/warren-mesh/warren/service/transport"
)

// Server publishes services and runs their handlers on a worker pool.
type Server struct {
	cfg  *config
	log  *slog.Logger
	pool *pool

	mu       sync.Mutex
	services map[string]*service
	conns    map[*wireConn]struct{}
	pconns   map[*procConn]struct{}
	serving  bool
	closed   bool
	done     chan struct{}
	wg       sync.WaitGroup // accept loops and connections
}

// service is one published {publisher, service}.
type service struct {
	srv       *Server
	publisher string
	name      string
	known     map[reflect.Type]struct{}
	regs      []discovery.Registration
	lns       []*listener
}

type listener struct {
	scope   Scope
	ln      net.Listener
	started bool
}

// NewServer returns a server; Publish services, then Serve.
func NewServer(opts ...Option) *Server {
	cfg := newConfig(true, opts)
	s := &Server{
		cfg: cfg, log: cfg.log.With(logging.KeyComponent, "service", logging.KeyNode, cfg.providerID),
		services: map[string]*service{}, conns: map[*wireConn]struct{}{}, pconns: map[*procConn]struct{}{},
		done: make(chan struct{}),
	}
	s.pool = newPool(cfg.minWorkers, cfg.maxWorkers, cfg.idleTimeout, s.run)
	return s
}

// ProviderID returns the server's provider ID.
func (s *Server) ProviderID() string { return s.cfg.providerID }

// Stats returns a snapshot of the worker pool.
func (s *Server) Stats() PoolStats { return s.pool.Stats() }

// Publish makes the service {publisher, name} visible in the server's
// scopes. knownMsgs are zero values of the message types it handles (each
// must implement KnownMessage, as a value or through a pointer); they are
// registered with RegisterType. Publish fails if a name is invalid
// (ErrInvalidName) or already taken in one of the scopes (a
// *discovery.TakenError naming the holder; errors.Is ErrNameTaken).
func (s *Server) Publish(publisher, name string, knownMsgs ...any) error {
	op := "service: publish " + publisher + "/" + name
	if err := validateNames("service: publish", publisher, name); err != nil {
		return err
	}
	sv := &service{srv: s, publisher: publisher, name: name, known: map[reflect.Type]struct{}{}}
	for _, m := range knownMsgs {
		if m == nil {
			return fmt.Errorf("%s: nil known message", op)
		}
		t := reflect.TypeOf(m)
		if !t.Implements(reflect.TypeFor[KnownMessage]()) && !reflect.PointerTo(t).Implements(reflect.TypeFor[KnownMessage]()) {
			return fmt.Errorf("%s: %s has no Handle(*service.Stream) any method", op, t)
		}
		RegisterType(m)
		sv.known[baseType(t)] = struct{}{}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("%s: %w", op, ErrServerClosed)
	}
	key := publisher + "/" + name
	if _, ok := s.services[key]; ok {
		return fmt.Errorf("%s: already published by this server", op)
	}
	ctx := context.Background()
	fail := func(err error) error {
		sv.unpublish()
		return fmt.Errorf("%s: %w", op, err)
	}
	for _, sc := range scopeOrder {
		if s.cfg.scope&sc == 0 {
			continue
		}
		rec := discovery.Record{Publisher: publisher, Service: name, ProviderID: s.cfg.providerID}
		if sc == ScopeProcess {
			rec.Local = sv
			r, err := s.cfg.procReg.Register(ctx, rec)
			if err != nil {
				return fail(err)
			}
			sv.regs = append(sv.regs, r)
			continue
		}
		be, ok := s.cfg.backends[sc]
		if !ok {
			return fail(fmt.Errorf("scope %s: %w", sc, ErrScope))
		}
		r, err := be.reg.Register(ctx, rec)
		if err != nil {
			return fail(err)
		}
		sv.regs = append(sv.regs, r)
		ln, err := be.tr.Listen(ctx, r.Record().Addr)
		if err != nil {
			return fail(err)
		}
		sv.lns = append(sv.lns, &listener{scope: sc, ln: ln})
	}
	s.services[key] = sv
	if s.serving {
		s.startAcceptLocked(sv)
	}
	s.log.Info("service: published", logging.KeyService, key, logging.KeyScope, s.cfg.scope.String())
	return nil
}

func (sv *service) unpublish() {
	for _, l := range sv.lns {
		l.ln.Close()
	}
	for i := len(sv.regs) - 1; i >= 0; i-- {
		sv.regs[i].Close()
	}
	sv.lns, sv.regs = nil, nil
}

// Serve accepts connections until ctx ends or Close is called, then shuts
// the server down. It returns nil after a clean shutdown, also when Close
// came first.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	if s.closed { // closed before it started: nothing to serve
		s.mu.Unlock()
		return nil
	}
	if s.serving {
		s.mu.Unlock()
		return errors.New("service: serve: already serving")
	}
	s.serving = true
	for _, sv := range s.services {
		s.startAcceptLocked(sv)
	}
	s.mu.Unlock()
	select {
	case <-ctx.Done():
		return s.Close(context.Background())
	case <-s.done:
		return nil
	}
}

func (s *Server) startAcceptLocked(sv *service) {
	for _, l := range sv.lns {
		if l.started {
			continue
		}
		l.started = true
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.acceptLoop(sv, l)
		}()
	}
}

func (s *Server) acceptLoop(sv *service, l *listener) {
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if !closed && !errors.Is(err, net.ErrClosed) {
				s.log.Error("service: accept", logging.KeyService, sv.publisher+"/"+sv.name, logging.KeyErr, err)
			}
			return
		}
		wc := newWireConn(nc, s.log, s.cfg.maxFrame, sv)
		if cred, ok := transport.PeerCred(nc); ok {
			wc.cred, wc.credOK = PeerCred(cred), true
		}
		if !s.allowed(wc) {
			s.log.Warn("service: refused peer", logging.KeyPeer, wc.peerString(), logging.KeyService, sv.publisher+"/"+sv.name)
			nc.Close()
			continue
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.conns[wc] = struct{}{}
		wc.onClose = func(wc *wireConn) {
			s.mu.Lock()
			delete(s.conns, wc)
			s.mu.Unlock()
		}
		s.wg.Add(1)
		s.mu.Unlock()
		wc.start()
		go func() { defer s.wg.Done(); wc.wait() }()
	}
}

func (s *Server) allowed(wc *wireConn) bool {
	if s.cfg.allowUIDs == nil && s.cfg.allowGIDs == nil {
		return true
	}
	if !wc.credOK {
		return false
	}
	return s.cfg.allowUIDs[wc.cred.UID] || s.cfg.allowGIDs[wc.cred.GID]
}

// Close unpublishes every service, closes every connection (clients see
// ErrClosed), stops the workers and waits for the server's goroutines, or
// for ctx to end. Handlers still running see their stream's context
// canceled. Close is idempotent.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
	svcs := s.services
	s.services = map[string]*service{}
	conns := make([]*wireConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	pconns := make([]*procConn, 0, len(s.pconns))
	for c := range s.pconns {
		pconns = append(pconns, c)
	}
	s.mu.Unlock()
	for _, sv := range svcs {
		sv.unpublish()
	}
	for _, c := range conns {
		c.close(fmt.Errorf("%w: %w", ErrClosed, ErrServerClosed))
	}
	for _, c := range pconns {
		c.close(fmt.Errorf("%w: %w", ErrClosed, ErrServerClosed))
	}
	finished := make(chan struct{})
	go func() {
		s.wg.Wait()
		s.pool.close()
		close(finished)
	}()
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("service: close: %w", ctx.Err())
	}
}

// known says whether v is one of the service's known messages.
func (sv *service) knownMsg(v any) (KnownMessage, int, bool) {
	t := reflect.TypeOf(v)
	if _, ok := sv.known[baseType(t)]; !ok {
		return nil, 0, false
	}
	km, ok := v.(KnownMessage)
	if !ok && t.Kind() != reflect.Pointer {
		p := reflect.New(t)
		p.Elem().Set(reflect.ValueOf(v))
		km, ok = p.Interface().(KnownMessage)
	}
	if !ok {
		return nil, 0, false
	}
	prio := 0
	if p, ok := v.(Prioritized); ok {
		prio = p.Priority()
	}
	return km, prio, true
}

// deliver routes a client's message to the server stream st: a known
// message to the worker pool, anything else to st's Recv if a handler runs
// on st, else back as an ErrUnknownMsg error. With inline set, a known
// message that could start at once is returned for the caller to run
// (runInline), saving a goroutine hand-off.
//
// With byPtr set, v points to the message (see decodeMsg); a value
// receiver's Handle is then called through the pointer, with no copy of
// the message into an interface.
func (sv *service) deliver(st *Stream, v any, byPtr, inline bool) (j job, runInline bool, err error) {
	if km, prio, ok := sv.knownMsg(v); ok {
		st.active.Add(1)
		j = job{st: st, msg: km, prio: prio, ptr: byPtr}
		if inline && sv.srv.pool.borrow() {
			return j, true, nil
		}
		if err := sv.srv.pool.submit(j); err != nil {
			st.active.Add(-1)
			return job{}, false, fmt.Errorf("service: send: %w", ErrServerClosed)
		}
		return job{}, false, nil
	}
	if st.active.Load() > 0 && st.in.push(item{v: v, ptr: byPtr}) {
		return job{}, false, nil
	}
	if byPtr {
		v = reflect.ValueOf(v).Elem().Interface() // for the message's %T
	}
	return job{}, false, st.Send(&RemoteError{
		Msg: fmt.Sprintf("service: %s/%s: %v: %T is not a known message and no handler is receiving", sv.publisher, sv.name, ErrUnknownMsg, v),
		Err: ErrUnknownMsg,
	})
}

func (s *Server) run(j job) {
	reply := s.handle(j)
	// Before the reply goes out: the client may answer it at once, and a
	// message that is not a known one must not be queued for a handler
	// that has finished.
	j.st.active.Add(-1)
	if reply == nil {
		return
	}
	if err := j.st.Send(reply); err != nil {
		s.log.Debug("service: reply dropped", logging.KeyErr, err)
	}
}

func (s *Server) handle(j job) (reply any) {
	defer func() {
		if r := recover(); r != nil {
			name := j.st.svc.publisher + "/" + j.st.svc.name
			s.log.Error("service: handler panicked", logging.KeyService, name, "msg", fmt.Sprintf("%T", j.msg),
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			t := reflect.TypeOf(j.msg)
			if j.ptr {
				t = t.Elem() // name the message type, not the pointer it was decoded into
			}
			reply = &RemoteError{Msg: fmt.Sprintf("service: %s: handler of %s: %v: %v", name, t, ErrHandlerPanic, r), Err: ErrHandlerPanic}
		}
	}()
	return j.msg.Handle(j.st)
}

// procConn is a Process scope connection: streams come in pairs that hand
// values to each other through their inboxes and the worker pool.
type procConn struct {
	svc    *service
	ctx    context.Context // parent of server stream contexts
	cancel context.CancelFunc
	mu     sync.Mutex
	pairs  map[*Stream]struct{} // client streams
	free   []*Stream
	err    error
}

func (sv *service) connect() (*procConn, error) {
	s := sv.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("service: connect: %w", ErrServerClosed)
	}
	pc := &procConn{svc: sv, pairs: map[*Stream]struct{}{}}
	pc.ctx, pc.cancel = context.WithCancel(context.Background())
	s.pconns[pc] = struct{}{}
	return pc, nil
}

func (pc *procConn) newStream() *Stream {
	cs := &Stream{pc: pc}
	ss := &Stream{pc: pc, server: true, svc: pc.svc, parent: pc.ctx}
	cs.init()
	ss.init()
	cs.peer, ss.peer = ss, cs
	pc.mu.Lock()
	if pc.err != nil {
		err := pc.err
		pc.mu.Unlock()
		cs.connClosed(err)
		return cs
	}
	pc.pairs[cs] = struct{}{}
	pc.mu.Unlock()
	return cs
}

func (pc *procConn) drop(cs *Stream) {
	pc.mu.Lock()
	delete(pc.pairs, cs)
	pc.mu.Unlock()
}

func (pc *procConn) getStream() *Stream {
	pc.mu.Lock()
	if n := len(pc.free); n > 0 {
		st := pc.free[n-1]
		pc.free = pc.free[:n-1]
		pc.mu.Unlock()
		return st
	}
	pc.mu.Unlock()
	return pc.newStream()
}

func (pc *procConn) putStream(st *Stream) {
	pc.mu.Lock()
	if _, ok := pc.pairs[st]; ok && len(pc.free) < 1024 {
		pc.free = append(pc.free, st)
		pc.mu.Unlock()
		return
	}
	pc.mu.Unlock()
	st.Close()
}

func (pc *procConn) close(err error) {
	pc.mu.Lock()
	if pc.err != nil {
		pc.mu.Unlock()
		return
	}
	pc.err = err
	pairs := pc.pairs
	pc.pairs, pc.free = nil, nil
	pc.mu.Unlock()
	pc.cancel()
	for cs := range pairs {
		cs.connClosed(err)
		cs.peer.connClosed(err)
	}
	s := pc.svc.srv
	s.mu.Lock()
	delete(s.pconns, pc)
	s.mu.Unlock()
}
