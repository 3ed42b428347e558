package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/warren-mesh/warren/gateway/backend"
	"github.com/warren-mesh/warren/gateway/config"
	"github.com/warren-mesh/warren/gateway/metrics"
	"github.com/warren-mesh/warren/internal/logging"
	"github.com/warren-mesh/warren/proc"
)

// Errors callers test with errors.Is.
var (
	ErrClosed      = errors.New("gateway: engine is shut down")
	ErrRunning     = errors.New("gateway: engine already started")
	ErrUnknownRef  = errors.New("gateway: no such route or backend")
	ErrInvalid     = errors.New("gateway: invalid configuration")
	ErrListen      = errors.New("cannot listen") // mid-message: "gateway: route 80 (web): cannot listen: ..."
	ErrAmbiguous   = errors.New("gateway: reference matches several backends")
	ErrNoProcess   = errors.New("gateway: backend has no process")
	ErrUnsupported = errors.New("gateway: not supported")
)

// Options configure an Engine.
type Options struct {
	Log *slog.Logger
	// HealthExtra adds fields to the /healthz payload (reserved keys stay
	// under the engine's control).
	HealthExtra func() map[string]any
	// ID identifies this gateway in the X-Warren-Hops header (loop
	// detection). Default: 12 random hex characters; the daemon passes its
	// node ID.
	ID string
	// Version is reported by /healthz.
	Version string
	// Metrics, if set, records requests, latency, cold starts, start
	// failures, restarts and active connections (package gateway/metrics).
	Metrics *metrics.Set
	// Observer, if set, is told about requests and backend events instead
	// of Metrics (tests, other metric systems).
	Observer Observer
	// OnProcessGroups, if set, is called with the process groups of the
	// backend processes running now, after each start and exit, in order
	// (record them to clear what a killed gateway leaves; livecount.go). It
	// must not call the engine.
	OnProcessGroups func(pgids []int)
	// BackendEnv is added to every backend process's environment (after
	// the gateway's own, before the backend's env): the daemon marks its
	// processes with it, so that what a killed gateway left can be told
	// from anyone else's.
	BackendEnv []string
}

func (e *Engine) observer() Observer {
	if e.opts.Observer != nil {
		return e.opts.Observer
	}
	if e.opts.Metrics != nil {
		return e.opts.Metrics
	}
	return nil
}

// Observer receives the engine's measurements. Implementations must be
// fast and safe for concurrent use.
type Observer interface {
	// Request is one HTTP request (or TCP/stdio connection) finished.
	Request(route, backend string, status int, d time.Duration)
	// BackendEvent: "start", "ready", "start_failed", "exit", "idle_stop", "kill".
	BackendEvent(route, backend, event string)
	// Conn is +1 when a connection opens and -1 when it closes.
	Conn(route string, delta int)
}

// Engine is the gateway. Create it with New, then Run (or Start), then
// Shutdown.
type Engine struct {
	opts    Options
	log     *slog.Logger
	id      string
	started time.Time

	mu      sync.Mutex
	cfg     config.Config // normalized, current
	raw     config.Config // as given (for GetConfig)
	routes  map[string]*route
	running bool
	closed  bool
	done    chan struct{} // closed by Shutdown
	bg      sync.WaitGroup

	sockets socketShare  // readiness type socket
	ports   portGuard    // addresses this engine's processes listen on (portguard.go)
	groups  liveSet[int] // process groups of the backends running, reported to OnProcessGroups
}

// New validates cfg and returns an engine that has not opened anything yet.
func New(cfg config.Config, opts Options) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if opts.ID == "" {
		var b [6]byte
		rand.Read(b[:])
		opts.ID = hex.EncodeToString(b[:])
	}
	log := opts.Log
	if log == nil {
		log = logging.Discard()
	}
	return &Engine{
		opts:    opts,
		log:     log.With(logging.KeyComponent, "gateway"),
		id:      opts.ID,
		cfg:     cfg.Normalized(),
		raw:     cfg.Clone(),
		routes:  map[string]*route{},
		done:    make(chan struct{}),
		started: time.Now(),
		groups:  liveSet[int]{onChange: opts.OnProcessGroups},
	}, nil
}

// ID is the gateway's ID in X-Warren-Hops.
func (e *Engine) ID() string { return e.id }

// Config returns the configuration in effect, as it was given.
func (e *Engine) Config() config.Config {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.raw.Clone()
}

// Start opens every route's listener and begins serving; it returns at
// once. If any listener cannot be opened (port in use), nothing is left
// open and the error names the route.
func (e *Engine) Start(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	if e.running {
		return ErrRunning
	}
	var opened []*route
	for _, port := range e.cfg.Ports() {
		r, err := e.newRoute(port, e.cfg.Routes[port], e.cfg.TrustedOrigins)
		if err == nil {
			err = r.listen(ctx)
		}
		if err != nil {
			for _, o := range opened {
				o.close(context.Background())
			}
			if r != nil {
				r.close(context.Background())
			}
			return err
		}
		opened = append(opened, r)
	}
	for _, r := range opened {
		e.routes[r.port] = r
		r.serve()
	}
	e.running = true
	e.started = time.Now()
	e.log.Info("gateway started", "routes", len(opened), "id", e.id)
	return nil
}

// Run is Start, then serving until ctx ends or Shutdown is called. When ctx
// ends, Run shuts the engine down (draining for up to 10s) before it
// returns. An error from Start (port in use, ...) is returned at once.
func (e *Engine) Run(ctx context.Context) error {
	if err := e.Start(ctx); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return e.Shutdown(sctx)
	case <-e.done:
		return nil
	}
}

// Shutdown stops accepting, drains requests in flight until ctx ends, and
// stops every backend process (their whole process groups). It returns
// once no process and no goroutine of the engine is left.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		e.bg.Wait()
		return nil
	}
	e.closed = true
	routes := e.routes
	e.routes = map[string]*route{}
	close(e.done)
	e.mu.Unlock()

	var wg sync.WaitGroup
	errs := make([]error, 0, len(routes))
	var emu sync.Mutex
	for _, r := range routes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.close(ctx); err != nil {
				emu.Lock()
				errs = append(errs, err)
				emu.Unlock()
			}
		}()
	}
	wg.Wait()
	e.bg.Wait()
	e.sockets.wait() // every backend is closed: their sockets' watchers end
	e.log.Info("gateway stopped")
	return errors.Join(errs...)
}

// Reload applies cfg. Routes and backends that did not change keep their
// listeners, connections and processes; changed backends are drained and
// restarted; new routes are opened and removed ones closed. An identical
// config is a no-op. An invalid config (or a new listener that cannot be
// opened) is rejected and nothing changes.
func (e *Engine) Reload(cfg config.Config) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	n := cfg.Normalized()
	d := config.Compare(e.cfg, n)
	if d.Empty() {
		e.raw = cfg.Clone()
		return nil
	}
	if !e.running {
		e.cfg, e.raw = n, cfg.Clone()
		return nil
	}
	ctx := context.Background()

	// Plan: which routes need a new listener.
	type change struct {
		port  string
		old   *route
		nr    config.Route
		rd    config.RouteDiff
		fresh bool // new listener needed
	}
	var changes []change
	for _, p := range d.Changed {
		old := e.routes[p]
		nr := n.Routes[p]
		rd := config.CompareRoute(p, e.cfg.Routes[p], nr)
		// A hand-off route's socket serves any settings: only its address
		// or kind (rd.Listener) needs a new one.
		fresh := old == nil || rd.Listener || (old.hand == nil && serverSettingsChanged(e.cfg.Routes[p], nr)) || !old.canSwap()
		changes = append(changes, change{p, old, nr, rd, fresh})
	}
	// 1. Open listeners of added routes first: if one fails, nothing changed.
	var added []*route
	rollback := func() {
		for _, r := range added {
			r.close(ctx)
		}
	}
	for _, p := range d.Added {
		r, err := e.newRoute(p, n.Routes[p], n.TrustedOrigins)
		if err == nil {
			err = r.listen(ctx)
		}
		if err != nil {
			if r != nil {
				r.close(ctx)
			}
			rollback()
			return err
		}
		added = append(added, r)
	}
	// Build replacements for changed routes before touching anything.
	for i, c := range changes {
		if c.fresh {
			continue
		}
		if err := c.old.prepareSwap(c.nr, c.rd); err != nil {
			for _, c2 := range changes[:i] {
				if !c2.fresh {
					c2.old.abortSwap()
				}
			}
			rollback()
			return err
		}
	}
	// 2. Commit. From here on, failures are logged per route.
	var errs []error
	for _, r := range added {
		e.routes[r.port] = r
		r.serve()
	}
	for _, p := range d.Removed {
		r := e.routes[p]
		delete(e.routes, p)
		e.retire(r)
	}
	for _, c := range changes {
		if !c.fresh {
			c.old.trusted = n.TrustedOrigins
			c.old.commitSwap(e)
			continue
		}
		// The listener must go before a new one can bind the same port.
		if c.old != nil {
			delete(e.routes, c.port)
			e.retire(c.old)
		}
		r, err := e.newRoute(c.port, c.nr, n.TrustedOrigins)
		if err == nil {
			err = r.listen(ctx)
		}
		if err != nil {
			errs = append(errs, err)
			if r != nil {
				r.close(ctx)
			}
			// Not running: leave it out of the config in effect, so that
			// the next reload sees it as new and tries again.
			delete(n.Routes, c.port)
			continue
		}
		e.routes[c.port] = r
		r.serve()
	}
	if d.Global {
		// trusted_origins feed every http route's CORS policy.
		for _, p := range d.Unchanged {
			if r := e.routes[p]; r != nil && r.http != nil {
				r.trusted = n.TrustedOrigins
				r.http.SetPool(r.httpPool(r.cfg, r.targets, r.sel))
			}
		}
	}
	if obs := e.observer(); obs != nil {
		if f, ok := obs.(interface{ Forget(string) }); ok {
			for _, p := range d.Removed {
				f.Forget(p)
			}
		}
	}
	e.cfg, e.raw = n, cfg.Clone()
	e.log.Info("gateway reloaded", "added", d.Added, "removed", d.Removed, "changed", d.Changed)
	if len(errs) > 0 {
		return fmt.Errorf("gateway: reload: %w", errors.Join(errs...))
	}
	return nil
}

// serverSettingsChanged: settings the listener's server reads per
// connection; changing them needs a new server.
func serverSettingsChanged(o, n config.Route) bool {
	return o.ReadHeaderTimeout != n.ReadHeaderTimeout || o.ConnIdleTimeout != n.ConnIdleTimeout || o.SendTimeout != n.SendTimeout ||
		o.Bind != n.Bind || o.Protocol != n.Protocol || o.StdioMode != n.StdioMode || o.Name != n.Name ||
		o.Handoff != n.Handoff
}

// retire closes a route Reload takes out, freeing its port before Reload
// goes on: at once for most (closeBackground drains the rest in the
// background); a hand-off route's programs hold the port, so it is closed
// before Reload goes on (they get SIGTERM and up to stop_grace), under e.mu.
func (e *Engine) retire(r *route) {
	if r == nil || r.hand == nil {
		e.closeBackground(r)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.close(ctx); err != nil {
		e.log.Warn("closing route", logging.KeyRoute, r.port, logging.KeyErr, err)
	}
}

// closeBackground drains and closes r without blocking the caller; Shutdown waits for it.
func (e *Engine) closeBackground(r *route) {
	if r == nil {
		return
	}
	r.closeListener()
	e.bg.Add(1)
	go func() {
		defer e.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := r.close(ctx); err != nil {
			e.log.Warn("closing route", logging.KeyRoute, r.port, logging.KeyErr, err)
		}
	}()
}

// closeBackendsBackground drains and stops backends no longer used.
func (e *Engine) closeBackendsBackground(bs []*backend.Backend) {
	if len(bs) == 0 {
		return
	}
	e.bg.Add(1)
	go func() {
		defer e.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, b := range bs {
			if err := b.Close(ctx); err != nil {
				e.log.Warn("closing backend", logging.KeyBackend, b.Name(), logging.KeyErr, err)
			}
		}
	}()
}

// newBackend builds the backend for entry i of route r.
// hand is the route's socket when it is a hand-off route (owned by the
// route: every backend the route has over reloads gets the same socket).
func (e *Engine) newBackend(port string, r config.Route, i int, hand *handoffState) (*backend.Backend, error) {
	var self *backend.Backend // the backend built here, for callbacks set up before it exists
	var shared *activationSocket
	bc := r.Backends[i]
	name := config.BackendName(bc, i)
	cfg := backend.Config{
		Name:         name,
		Addr:         bc.Addr(),
		StartTimeout: r.StartTimeout.Std(),
		IdleTimeout:  r.IdleTimeout.Std(),
		StopTimeout:  r.StopGrace.Std() + 5*time.Second,
		MaxQueue:     r.MaxPending,
		Weight:       bc.Weight,
		Log:          e.log.With(logging.KeyRoute, port),
	}
	if r.Restart != nil {
		cfg.BackoffMin = r.Restart.Backoff.Std()
		cfg.BackoffMax = r.Restart.MaxBackoff.Std()
		cfg.Restart = r.Restart.Policy
		cfg.MaxRetries = r.Restart.MaxRetries
	}
	if r.Readiness != nil {
		cfg.ReadyInterval = r.Readiness.Interval.Std()
	}
	if obs := e.observer(); obs != nil {
		cfg.OnEvent = func(ev string) { obs.BackendEvent(port, name, ev) }
	}
	switch bc.Kind() {
	case config.KindInternal:
		cfg.Addr = "internal"
	case config.KindProcess:
		if r.Protocol == config.ProtocolStdio {
			// stdio workers run per connection/request; no long-lived process.
			cfg.Addr = "stdio"
			break
		}
		var sock *activationSocket
		switch {
		case hand != nil:
			sock = hand.sock
			cfg.Addr = r.ListenAddr(port)
			cfg.Busy = func() bool { n, _ := hand.busy(); return n > 0 }
			prev := cfg.OnEvent
			cfg.OnEvent = func(ev string) {
				if prev != nil {
					prev(ev)
				}
				hand.poke() // a process came or went: the watcher looks now, not at its next tick
			}
		case r.Readiness != nil && r.Readiness.Type == config.ReadySocket:
			sock = e.sockets.get(bc.Addr(), name)
			shared = sock
			cfg.OnClose = func() { e.sockets.release(shared, self) }
		}
		cfg.Launch = e.launcher(bc, r.StopGrace.Std(), sock)
		if rd := r.Readiness; rd != nil {
			switch rd.Type {
			case config.ReadyNone, config.ReadySocket:
				// socket: the gateway's socket is listening before the
				// process runs; connections wait in its backlog.
				cfg.Check = func(context.Context) error { return nil }
			case config.ReadyHTTP:
				addr, path := bc.Addr(), rd.Path
				cfg.Check = func(ctx context.Context) error { return httpCheck(ctx, addr, path) }
			}
		}
	}
	b, err := backend.New(cfg)
	if err != nil {
		if cfg.OnClose != nil {
			cfg.OnClose() // what the launcher took (a shared socket's use) is given back
		}
		return nil, err
	}
	self = b
	if shared != nil {
		e.sockets.use(shared, b)
	}
	return b, nil
}

// launcher starts a backend's process through package proc.
// With sock (readiness type socket) the process gets the listening socket
// as fd 3 and the systemd variables, through activationWrapper.
func (e *Engine) launcher(bc config.Backend, grace time.Duration, sock *activationSocket) backend.Launcher {
	return func(ctx context.Context, logs io.Writer) (backend.Process, error) {
		env := append(os.Environ(), e.opts.BackendEnv...)
		keys := make([]string, 0, len(bc.Env))
		for k := range bc.Env {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			env = append(env, k+"="+bc.Env[k])
		}
		// The process outlives the start's ctx: proc.Start would stop it
		// when ctx ends, so hand it a context that never does.
		spec := proc.Spec{
			Path: bc.Cmd, Args: bc.Args, Env: env, Dir: bc.Cwd,
			Stdout: logs, Stderr: logs, Grace: grace,
		}
		if sock != nil {
			f, err := sock.file(ctx)
			if err != nil {
				return nil, err
			}
			defer f.Close() // the process has its own copy once started
			spec.Path = "/bin/sh"
			spec.Args = append([]string{"-c", activationWrapper, bc.Cmd}, bc.Args...)
			spec.Env = activationEnv(env, sock.fdName())
			spec.ExtraFiles = []*os.File{f}
			// A program still running on the shared socket keeps its
			// non-blocking mode (keepFlags).
			defer sock.keepFlags()()
		}
		addr := bc.Addr()
		if sock == nil {
			if err := e.ports.check(addr); err != nil {
				return nil, err
			}
		}
		p, err := proc.Start(context.WithoutCancel(ctx), spec)
		if err != nil {
			return nil, err
		}
		e.ports.started(addr, p.Done())
		if e.opts.OnProcessGroups != nil {
			e.groups.add(p.PID(), p.Done()) // proc.Start makes it a group leader
		}
		return p, nil
	}
}

func httpCheck(ctx context.Context, addr, path string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nUser-Agent: warren-readiness\r\n\r\n", path, addr); err != nil {
		return err
	}
	buf := make([]byte, 64)
	n, err := io.ReadAtLeast(c, buf, 12)
	if err != nil {
		return err
	}
	line := string(buf[:n])
	if !strings.HasPrefix(line, "HTTP/1.") || len(line) < 12 {
		return fmt.Errorf("readiness %s%s: not an HTTP response", addr, path)
	}
	code, err := strconv.Atoi(line[9:12])
	if err != nil || code >= 500 {
		return fmt.Errorf("readiness %s%s: status %s", addr, path, line[9:12])
	}
	return nil
}

// findBackend resolves a reference: "PORT/NAME", "PORT/#i", "PORT" (a
// route with one backend), or a backend NAME unique across routes.
func (e *Engine) findBackend(ref string) (*backend.Backend, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	port, name, hasSlash := strings.Cut(ref, "/")
	if hasSlash || e.routes[ref] != nil {
		r := e.routes[port]
		if r == nil {
			return nil, fmt.Errorf("%w: %q", ErrUnknownRef, ref)
		}
		bs := r.backendList()
		if !hasSlash {
			if len(bs) != 1 {
				return nil, fmt.Errorf("%w: route %s has %d backends; name one as %s/NAME", ErrAmbiguous, port, len(bs), port)
			}
			return bs[0], nil
		}
		for _, b := range bs {
			if b.Name() == name {
				return b, nil
			}
		}
		return nil, fmt.Errorf("%w: %q", ErrUnknownRef, ref)
	}
	var found []*backend.Backend
	for _, r := range e.routes {
		for _, b := range r.backendList() {
			if b.Name() == ref {
				found = append(found, b)
			}
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%w: %q", ErrUnknownRef, ref)
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("%w: %q (use PORT/NAME)", ErrAmbiguous, ref)
}

// Logs returns a backend's captured output (see findBackend for ref).
func (e *Engine) Logs(ref string) ([]string, error) {
	b, err := e.findBackend(ref)
	if err != nil {
		return nil, err
	}
	return b.Logs(), nil
}

// Kill stops a backend's process now (SIGTERM to its group, SIGKILL after
// the grace period); the next request starts it again.
func (e *Engine) Kill(ref string) error {
	b, err := e.findBackend(ref)
	if err != nil {
		return err
	}
	if err := b.Kill(); err != nil {
		return fmt.Errorf("%w: %w", ErrNoProcess, err)
	}
	return nil
}
