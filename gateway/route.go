package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warren-mesh/warren/gateway/backend"
	"github.com/warren-mesh/warren/gateway/balance"
	"github.com/warren-mesh/warren/gateway/config"
	"github.com/warren-mesh/warren/gateway/cors"
	"github.com/warren-mesh/warren/gateway/httpproxy"
	"github.com/warren-mesh/warren/gateway/stdio"
	"github.com/warren-mesh/warren/gateway/tcpproxy"
	"github.com/warren-mesh/warren/internal/logging"
)

// route is one public listener and what it forwards to. Its fields other
// than the atomics are changed only under Engine.mu.
type route struct {
	e    *Engine
	port string
	cfg  config.Route // normalized
	// trusted is the config's trusted_origins (CORS), as of the last build.
	trusted []string
	ln      *onceListener

	backends []*backend.Backend
	targets  []*httpproxy.Target // http only, parallel to backends
	sel      balance.Selector

	http    *httpproxy.Proxy
	stdio   *stdioRoute
	tcpPool atomic.Pointer[tcpPool]
	hand    *handoffState      // tcp with handoff: the socket goes to the program (handoff.go)
	retired []*backend.Backend // hand-off only: programs swapped out by reloads, which may still hold the socket

	serving   bool // serve was called (serveDone will close)
	serveDone chan struct{}
	connCtx   context.Context // ends every TCP pipe
	connStop  context.CancelFunc
	conns     sync.WaitGroup
	active    atomic.Int64
	requests  atomic.Uint64

	pending *swap
}

type tcpPool struct {
	backends []*backend.Backend
	cands    []balance.Candidate
	sel      balance.Selector
	idle     time.Duration // conn_idle_timeout (read here, not from route.cfg, which Reload changes)
}

// swap is a prepared change of a route's backends (Reload step 1).
type swap struct {
	cfg      config.Route
	backends []*backend.Backend
	targets  []*httpproxy.Target
	sel      balance.Selector
	created  []*backend.Backend // new objects (closed on abort)
	retired  []*backend.Backend // old objects not reused (closed on commit)
}

// onceListener closes its listener once, so the engine can free a port
// right away while the server's own shutdown (which closes it again)
// drains in the background.
type onceListener struct {
	net.Listener
	once sync.Once
	err  error
}

func (l *onceListener) Close() error {
	l.once.Do(func() { l.err = l.Listener.Close() })
	return l.err
}

func (e *Engine) newRoute(port string, rc config.Route, trusted []string) (*route, error) {
	r := &route{e: e, port: port, cfg: rc, trusted: trusted, serveDone: make(chan struct{})}
	r.connCtx, r.connStop = context.WithCancel(context.Background())
	sel, err := balance.New(rc.LoadBalance)
	if err != nil {
		return nil, fmt.Errorf("gateway: route %s: %w", port, err)
	}
	r.sel = sel
	if rc.Handoff {
		if r.hand, err = newHandoff(rc.ListenAddr(port), rc.Name); err != nil {
			return nil, fmt.Errorf("gateway: route %s: %w", port, err)
		}
	}
	for i := range rc.Backends {
		b, err := e.newBackend(port, rc, i, r.hand)
		if err != nil {
			r.closeBackends(context.Background(), r.backends)
			return nil, fmt.Errorf("gateway: route %s: %w", port, err)
		}
		r.backends = append(r.backends, b)
	}
	switch rc.Protocol {
	case config.ProtocolHTTP:
		r.targets = e.targetsFor(r.backends, rc, nil, nil)
		r.http = httpproxy.New(httpproxy.Options{
			ID:                e.id,
			Name:              rc.Name,
			ReadHeaderTimeout: rc.ReadHeaderTimeout.Std(),
			IdleTimeout:       rc.ConnIdleTimeout.Std(),
			SendTimeout:       rc.SendTimeout.Std(),
			// Only this machine's users reach a loopback route: they get
			// the cause of a 502 in its body (the rest, in the log).
			ShowCause: config.IsLoopbackListen(rc.ListenAddr(port)),
			Log:       e.log.With(logging.KeyRoute, port),
		}, r.httpPool(rc, r.targets, sel))
	case config.ProtocolTCP:
		if r.hand != nil {
			r.hand.backend.Store(r.backends[0])
			r.hand.tick.Store(int64(handoffTick(rc.IdleTimeout.Std())))
			break
		}
		r.tcpPool.Store(newTCPPool(r.backends, sel, rc.ConnIdleTimeout.Std()))
	case config.ProtocolStdio:
		r.stdio = e.stdioServer(port, rc, trusted, r.backends, sel)
	default:
		r.closeBackends(context.Background(), r.backends)
		return nil, fmt.Errorf("gateway: route %s: %w: protocol %q in this build", port, ErrUnsupported, rc.Protocol)
	}
	return r, nil
}

func newTCPPool(bs []*backend.Backend, sel balance.Selector, idle time.Duration) *tcpPool {
	p := &tcpPool{backends: bs, sel: sel, idle: idle, cands: make([]balance.Candidate, len(bs))}
	for i, b := range bs {
		p.cands[i] = b
	}
	return p
}

// targetsFor wraps backends as proxy targets, reusing the old target (and
// its keep-alive pool) of a backend that is kept.
func (e *Engine) targetsFor(bs []*backend.Backend, rc config.Route, oldB []*backend.Backend, oldT []*httpproxy.Target) []*httpproxy.Target {
	ts := make([]*httpproxy.Target, len(bs))
	for i, b := range bs {
		for j, ob := range oldB {
			if ob == b {
				ts[i] = oldT[j]
			}
		}
		if ts[i] != nil {
			continue
		}
		if rc.Backends[i].Kind() == config.KindInternal {
			ts[i] = &httpproxy.Target{Backend: b, Internal: e.healthFast}
		} else {
			ts[i] = httpproxy.NewTarget(b)
		}
	}
	return ts
}

func (r *route) httpPool(rc config.Route, ts []*httpproxy.Target, sel balance.Selector) *httpproxy.Pool {
	p := &httpproxy.Pool{
		Targets:        ts,
		Selector:       sel,
		RequestTimeout: rc.RequestTimeout.Std(),
		CORS:           cors.FromConfig(r.trusted, rc.CORS),
	}
	if rc.MaxBodyBytes > 0 {
		p.MaxBodyBytes = rc.MaxBodyBytes
	}
	obs := r.e.observer()
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Backend.Name()
	}
	p.Timed = obs != nil
	p.Observe = func(target, status int, d time.Duration) {
		r.requests.Add(1)
		if obs != nil {
			name := ""
			if target >= 0 && target < len(names) {
				name = names[target]
			}
			obs.Request(r.port, name, status, d)
		}
	}
	return p
}

// listen opens the route's listener.
func (r *route) listen(ctx context.Context) error {
	addr := r.cfg.ListenAddr(r.port)
	if r.hand != nil {
		if err := r.hand.open(ctx); err != nil {
			return fmt.Errorf("gateway: route %s (%s): %w: %w", r.port, r.cfg.Name, ErrListen, err)
		}
		return nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("gateway: route %s (%s): %w: %w", r.port, r.cfg.Name, ErrListen, err) // err names the address
	}
	r.ln = &onceListener{Listener: ln}
	return nil
}

// serve starts the accept loop.
func (r *route) serve() {
	r.serving = true
	r.warm(r.backends)
	switch {
	case r.hand != nil:
		go r.serveHandoff()
	case r.stdio != nil:
		go func() {
			defer close(r.serveDone)
			if err := r.stdio.Serve(r.connCtx, r.ln); err != nil && !errors.Is(err, stdio.ErrClosed) && !errors.Is(err, net.ErrClosed) {
				r.e.log.Warn("route stopped serving", logging.KeyRoute, r.port, logging.KeyErr, err)
			}
		}()
	case r.http != nil:
		go func() {
			defer close(r.serveDone)
			if err := r.http.Serve(r.ln); err != nil && !errors.Is(err, net.ErrClosed) {
				r.e.log.Warn("route stopped serving", logging.KeyRoute, r.port, logging.KeyErr, err)
			}
		}()
	default:
		go r.serveTCP()
	}
}

// warm starts the backends whose restart policy is "always": they run
// from the start instead of waiting for the first request.
func (r *route) warm(bs []*backend.Backend) {
	if r.cfg.Restart == nil || r.cfg.Restart.Policy != config.RestartAlways {
		return
	}
	for _, b := range bs {
		b.Start()
	}
}

func (r *route) canSwap() bool { return r.http != nil || r.tcpPool.Load() != nil || r.hand != nil }

func (r *route) backendList() []*backend.Backend { return r.backends }

// prepareSwap builds the new backend set for a changed route whose
// listener stays. Unchanged backends are reused as they are (process,
// connections, state); the rest are created fresh.
func (r *route) prepareSwap(nr config.Route, rd config.RouteDiff) error {
	keep := map[string]bool{}
	if !backendSettingsChanged(r.cfg, nr) {
		for _, n := range rd.Unchanged {
			keep[n] = true
		}
	}
	old := map[string]*backend.Backend{}
	for _, b := range r.backends {
		old[b.Name()] = b
	}
	s := &swap{cfg: nr}
	for i := range nr.Backends {
		name := config.BackendName(nr.Backends[i], i)
		if b := old[name]; b != nil && keep[name] {
			s.backends = append(s.backends, b)
			continue
		}
		b, err := r.e.newBackend(r.port, nr, i, r.hand)
		if err != nil {
			r.closeBackends(context.Background(), s.created)
			return fmt.Errorf("gateway: route %s: %w", r.port, err)
		}
		s.backends = append(s.backends, b)
		s.created = append(s.created, b)
	}
	for _, b := range r.backends {
		if !containsBackend(s.backends, b) {
			s.retired = append(s.retired, b)
		}
	}
	s.sel = r.sel
	if nr.LoadBalance != r.cfg.LoadBalance {
		sel, err := balance.New(nr.LoadBalance)
		if err != nil {
			r.closeBackends(context.Background(), s.created)
			return fmt.Errorf("gateway: route %s: %w", r.port, err)
		}
		s.sel = sel
	}
	if r.http != nil {
		s.targets = r.e.targetsFor(s.backends, nr, r.backends, r.targets)
	}
	r.pending = s
	return nil
}

// backendSettingsChanged: route settings a backend is built with. Others
// (policy, CORS, body and request limits) change without a restart.
func backendSettingsChanged(o, n config.Route) bool {
	return o.StartTimeout != n.StartTimeout || o.IdleTimeout != n.IdleTimeout ||
		o.StopGrace != n.StopGrace || o.MaxPending != n.MaxPending ||
		o.Protocol != n.Protocol || !reflect.DeepEqual(o.Readiness, n.Readiness) ||
		!reflect.DeepEqual(o.Restart, n.Restart)
}

func containsBackend(bs []*backend.Backend, b *backend.Backend) bool {
	for _, x := range bs {
		if x == b {
			return true
		}
	}
	return false
}

func (r *route) abortSwap() {
	if r.pending != nil {
		r.closeBackends(context.Background(), r.pending.created)
		r.pending = nil
	}
}

// commitSwap makes the prepared backends live and drains the retired ones.
func (r *route) commitSwap(e *Engine) {
	s := r.pending
	r.pending = nil
	if s == nil {
		return
	}
	if r.http != nil {
		oldT := r.targets
		r.http.SetPool(r.httpPool(s.cfg, s.targets, s.sel))
		for _, t := range oldT {
			if !containsTarget(s.targets, t) {
				t.CloseIdle()
			}
		}
		r.targets = s.targets
	} else if r.hand != nil {
		r.hand.sock.setName(s.cfg.Name)
		r.hand.tick.Store(int64(handoffTick(s.cfg.IdleTimeout.Std())))
		r.hand.setBackend(s.backends[0])
	} else {
		r.tcpPool.Store(newTCPPool(s.backends, s.sel, s.cfg.ConnIdleTimeout.Std()))
	}
	r.backends, r.sel, r.cfg = s.backends, s.sel, s.cfg
	if r.hand != nil {
		live := r.retired[:0]
		for _, b := range r.retired {
			select {
			case <-b.Closed():
			default:
				live = append(live, b)
			}
		}
		r.retired = append(live, s.retired...)
	}
	r.warm(s.created)
	e.closeBackendsBackground(s.retired)
}

func containsTarget(ts []*httpproxy.Target, t *httpproxy.Target) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// closeListener frees the port at once; connections are drained by close.
// A hand-off route's port stays taken until its program has exited (it
// holds the socket too): here its watcher stops; close releases the
// gateway's copy once the backends (which may be starting with it) are closed.
func (r *route) closeListener() {
	if r.ln != nil {
		r.ln.Close()
	}
	if r.hand != nil {
		r.connStop()
		if r.serving {
			<-r.serveDone
		}
	}
}

// close stops accepting, drains connections until ctx ends, then stops
// the route's backends.
func (r *route) close(ctx context.Context) error {
	var errs []error
	r.closeListener()
	if r.http != nil {
		if err := r.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("gateway: route %s: %w", r.port, err))
		}
	}
	if r.stdio != nil {
		// Children are killed on close (SIGTERM, then SIGKILL after grace).
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.StopGrace.Std()+5*time.Second)
		if err := r.stdio.Close(sctx); err != nil {
			errs = append(errs, fmt.Errorf("gateway: route %s: %w", r.port, err))
		}
		cancel()
	}
	if r.serving {
		select {
		case <-r.serveDone:
		case <-ctx.Done():
		}
	}
	// TCP pipes: wait for them to end by themselves until ctx ends.
	drained := make(chan struct{})
	go func() { r.conns.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-ctx.Done():
		r.connStop()
		<-drained
	}
	r.connStop()
	if r.serving {
		<-r.serveDone
	}
	// Backends get a fresh grace of their own: in-flight requests are done
	// by now, and their processes must go even if ctx has expired.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	// A hand-off route's port is free once every program that holds its
	// socket has exited: those swapped out by reloads too (closing in the
	// background; Close waits for them).
	if err := r.closeBackends(bctx, append(r.backends[:len(r.backends):len(r.backends)], r.retired...)); err != nil {
		errs = append(errs, err)
	}
	if r.hand != nil {
		r.hand.close()
	}
	for _, t := range r.targets {
		t.CloseIdle()
	}
	return errors.Join(errs...)
}

func (r *route) closeBackends(ctx context.Context, bs []*backend.Backend) error {
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, b := range bs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.Close(ctx); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// serveTCP is the accept loop of a tcp route.
func (r *route) serveTCP() {
	defer close(r.serveDone)
	for {
		c, err := r.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			r.e.log.Warn("accept", logging.KeyRoute, r.port, logging.KeyErr, err)
			select {
			case <-time.After(50 * time.Millisecond): // EMFILE and friends: don't spin
			case <-r.connCtx.Done():
				return
			}
			continue
		}
		r.conns.Add(1)
		go r.handleTCP(c)
	}
}

func (r *route) handleTCP(c net.Conn) {
	defer r.conns.Done()
	start := time.Now()
	r.active.Add(1)
	r.requests.Add(1)
	obs := r.e.observer()
	if obs != nil {
		obs.Conn(r.port, 1)
		defer obs.Conn(r.port, -1)
	}
	defer r.active.Add(-1)
	pool := r.tcpPool.Load()
	clientIP := ""
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		clientIP = a.IP.String()
	}
	// Pick a backend and connect before piping: a backend that cannot be
	// reached has received nothing, so the next one may be tried.
	var up net.Conn
	var b *backend.Backend
	var lastErr error
	tried := map[int]bool{}
	for attempt := 0; attempt < len(pool.backends) && up == nil; attempt++ {
		idx := pool.sel.Select(pool.cands, clientIP)
		if idx < 0 || tried[idx] {
			idx = -1
			for i, cand := range pool.backends {
				if !tried[i] && (cand.Available() || attempt == 0) {
					idx = i
					break
				}
			}
		}
		if idx < 0 {
			break
		}
		tried[idx] = true
		cand := pool.backends[idx]
		if err := cand.AcquireConn(r.connCtx, c); err != nil {
			lastErr = err
			if errors.Is(err, backend.ErrClientGone) {
				break
			}
			continue
		}
		d := net.Dialer{Timeout: 10 * time.Second}
		conn, err := d.DialContext(r.connCtx, "tcp", cand.Addr())
		if err != nil {
			cand.Release()
			cand.Fail()
			lastErr = err
			continue
		}
		cand.Succeed()
		up, b = conn, cand
	}
	if up == nil {
		c.Close()
		r.e.log.Debug("tcp: no backend", logging.KeyRoute, r.port, logging.KeyErr, lastErr)
		if obs != nil {
			obs.Request(r.port, "", 502, time.Since(start))
		}
		return
	}
	defer b.Release()
	p := tcpproxy.Piper{IdleTimeout: pool.idle}
	err := p.Pipe(r.connCtx, c, func(context.Context) (net.Conn, error) { return up, nil })
	if obs != nil {
		code := 200
		if err != nil && !errors.Is(err, context.Canceled) {
			code = 502
		}
		obs.Request(r.port, b.Name(), code, time.Since(start))
	}
}

// status snapshots the route.
func (r *route) status() RouteStatus {
	s := RouteStatus{
		Port:      r.port,
		Name:      r.cfg.Name,
		Protocol:  r.cfg.Protocol,
		Listen:    r.cfg.ListenAddr(r.port),
		Policy:    r.cfg.LoadBalance,
		Listening: r.ln != nil || r.hand != nil,
		Handoff:   r.hand != nil,
		Requests:  r.requests.Load(),
		Conns:     r.active.Load(),
	}
	if r.http != nil {
		s.Conns = int64(r.http.OpenConns())
	}
	if r.stdio != nil {
		s.Conns = r.active.Load()
	}
	for _, b := range r.backends {
		s.Backends = append(s.Backends, b.Stats())
	}
	return s
}
