package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/warren-mesh/warren/gateway/backend"
	"github.com/warren-mesh/warren/gateway/balance"
	"github.com/warren-mesh/warren/gateway/config"
	"github.com/warren-mesh/warren/gateway/cors"
	"github.com/warren-mesh/warren/gateway/stdio"
	"github.com/warren-mesh/warren/internal/listenq"
	"github.com/warren-mesh/warren/internal/logging"
)

// stdioRoute serves a stdio route: one child per connection (stream) or
// per request (http, CGI/1.1), started through package gateway/stdio, one
// stdio.Server per backend. With several backends, each request (http
// mode) or connection (stream and auto mode, where a connection is one
// child) goes to the backend the route's load_balance policy picks; the
// backend object counts it (least_conn sees children in flight) and
// carries its children's stderr and counters.
type stdioRoute struct {
	mode     string
	servers  []*stdio.Server
	backends []*backend.Backend
	cands    []balance.Candidate
	sel      balance.Selector

	mu  sync.Mutex
	lns []*listenq.Listener // stream/auto: per-backend listeners fed by Serve
	wg  sync.WaitGroup
}

func (e *Engine) stdioServer(port string, rc config.Route, trusted []string, bs []*backend.Backend, sel balance.Selector) *stdioRoute {
	sr := &stdioRoute{mode: rc.StdioMode, backends: bs, sel: sel}
	if sr.mode == "" {
		sr.mode = config.StdioStream
	}
	for i, b := range bs {
		sr.cands = append(sr.cands, b)
		sr.servers = append(sr.servers, e.stdioBackend(port, rc, trusted, i, b))
	}
	if sr.mode == config.StdioHTTP && len(bs) > 1 {
		// The first server runs the route's HTTP server; its handler picks a
		// backend per request and hands the request to that backend's server.
		pol := cors.FromConfig(trusted, rc.CORS)
		obs := e.observer()
		names := make([]string, len(bs))
		for i := range bs {
			names[i] = config.BackendName(rc.Backends[i], i)
		}
		sr.servers[0].Middleware = func(http.Handler) http.Handler {
			return pol.Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				start := time.Now()
				i := sr.pick(clientIP(req.RemoteAddr))
				if i < 0 {
					http.Error(w, "warren gateway: no backend available", http.StatusServiceUnavailable)
					return
				}
				b := bs[i]
				if err := b.Acquire(req.Context()); err != nil {
					http.Error(w, "warren gateway: "+err.Error(), http.StatusServiceUnavailable)
					return
				}
				defer b.Release()
				sw := &statusWriter{ResponseWriter: w, code: 200}
				sr.servers[i].ServeHTTP(sw, req)
				if obs != nil {
					obs.Request(port, names[i], sw.code, time.Since(start))
				}
			}))
		}
	}
	return sr
}

// pick chooses a backend for a request or connection.
func (sr *stdioRoute) pick(ip string) int {
	i := sr.sel.Select(sr.cands, ip)
	if i < 0 && len(sr.cands) > 0 {
		i = 0 // nothing in rotation: the first backend answers (its error, or a recovered worker)
	}
	return i
}

func clientIP(remote string) string {
	h, _, err := net.SplitHostPort(remote)
	if err != nil {
		return remote
	}
	return h
}

// Serve accepts on ln until ctx ends or Close.
func (sr *stdioRoute) Serve(ctx context.Context, ln net.Listener) error {
	if len(sr.servers) == 1 || sr.mode == config.StdioHTTP {
		return sr.servers[0].Serve(ctx, ln)
	}
	// stream and auto: a connection is one child; pick its backend here
	// and hand it to that backend's server through a listener of its own.
	sr.mu.Lock()
	for range sr.servers {
		sr.lns = append(sr.lns, listenq.New(ln.Addr()))
	}
	lns := sr.lns
	sr.mu.Unlock()
	errs := make([]error, len(lns))
	for i, l := range lns {
		sr.wg.Add(1)
		go func() {
			defer sr.wg.Done()
			errs[i] = sr.servers[i].Serve(ctx, l)
		}()
	}
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var err error
	for {
		c, aerr := ln.Accept()
		if aerr != nil {
			if ctx.Err() == nil && !errors.Is(aerr, net.ErrClosed) {
				err = fmt.Errorf("stdio: accept: %w", aerr)
			}
			break
		}
		i := sr.pick(clientIP(c.RemoteAddr().String()))
		b := sr.backends[i]
		if aerr := b.Acquire(ctx); aerr != nil {
			c.Close()
			continue
		}
		lns[i].Push(&releaseConn{Conn: c, release: b.Release})
	}
	for _, l := range lns {
		l.Close()
	}
	sr.wg.Wait()
	return errors.Join(append(errs, err)...)
}

// Close stops every backend's children and waits for their handlers.
func (sr *stdioRoute) Close(ctx context.Context) error {
	sr.mu.Lock()
	for _, l := range sr.lns {
		l.Close()
	}
	sr.mu.Unlock()
	var errs []error
	for _, s := range sr.servers {
		if err := s.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// stdioBackend builds the stdio.Server of backend i.
func (e *Engine) stdioBackend(port string, rc config.Route, trusted []string, i int, b *backend.Backend) *stdio.Server {
	bc := rc.Backends[i]
	env := make([]string, 0, len(bc.Env))
	keys := make([]string, 0, len(bc.Env))
	for k := range bc.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		env = append(env, k+"="+bc.Env[k])
	}
	s := &stdio.Server{
		Path:              bc.Cmd,
		Args:              bc.Args,
		Env:               env,
		Dir:               bc.Cwd,
		Mode:              rc.StdioMode,
		RequestTimeout:    rc.RequestTimeout.Std(),
		ConnIdleTimeout:   rc.ConnIdleTimeout.Std(),
		ReadHeaderTimeout: rc.ReadHeaderTimeout.Std(),
		Grace:             rc.StopGrace.Std(),
		Log:               e.log.With(logging.KeyRoute, port),
		Stderr:            b.LogWriter(),
	}
	if rc.MaxOutputBytes > 0 {
		s.MaxOutput = rc.MaxOutputBytes
	}
	if rc.MaxBodyBytes > 0 {
		s.MaxBody = rc.MaxBodyBytes
	}
	obs := e.observer()
	name := config.BackendName(bc, i)
	s.OnStart = func() {
		b.WorkerStarted()
		if obs != nil {
			obs.BackendEvent(port, name, "start")
		}
	}
	s.OnStartError = func(err error) {
		b.WorkerFailed(err)
		if obs != nil {
			obs.BackendEvent(port, name, "start_failed")
		}
	}
	if obs != nil {
		s.OnExit = func(code int, _ time.Duration) {
			if code != 0 {
				obs.BackendEvent(port, name, "exit")
			}
		}
	}
	pol := cors.FromConfig(trusted, rc.CORS)
	s.Middleware = func(next http.Handler) http.Handler {
		h := pol.Middleware(next)
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w, code: 200}
			h.ServeHTTP(sw, req)
			if obs != nil {
				obs.Request(port, name, sw.code, time.Since(start))
			}
		})
	}
	return s
}

// releaseConn releases its backend once, when the connection is closed.
type releaseConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *releaseConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// CloseWrite keeps half-close working through the wrapper.
func (c *releaseConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}

// statusWriter remembers the status code for metrics; it forwards Flush so
// CGI bodies keep streaming.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
