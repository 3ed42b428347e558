package httpproxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/warren-mesh/warren/gateway/backend"
	"github.com/warren-mesh/warren/gateway/balance"
	"github.com/warren-mesh/warren/gateway/config"
	"github.com/warren-mesh/warren/gateway/cors"
	"github.com/warren-mesh/warren/internal/listenq"
	"github.com/warren-mesh/warren/internal/logging"
)

// HopHeader carries the IDs of the warren gateways a request went through.
const HopHeader = "X-Warren-Hops"

// StatusClientClosed is recorded for a request whose client hung up
// while it waited for a cold start (nginx's 499).
const StatusClientClosed = 499

// streamThreshold is the request body size above which bodies are streamed
// to the backend instead of buffered.
const streamThreshold = 4 << 20

// Target is one backend of a pool: either a proxied backend or the
// gateway's own handler (the "internal" backend).
type Target struct {
	Backend *backend.Backend
	// Internal, when set, answers requests routed to this target itself
	// (the gateway's health handler); Backend may still hold its state.
	Internal fasthttp.RequestHandler

	hc     *fasthttp.HostClient
	gen    atomic.Uint64  // Backend.Generation the idle connections belong to
	closes atomic.Uint64  // CloseIdle calls: the lane closes idle connections dialed before
	ap     netip.AddrPort // the lane's dial address (invalid: not an IP literal)
}

// NewTarget wraps a backend with its own keep-alive connection pool.
func NewTarget(b *backend.Backend) *Target {
	return &Target{Backend: b, hc: newHostClient(b.Addr()), ap: laneAddr(b.Addr())}
}

func newHostClient(addr string) *fasthttp.HostClient {
	return &fasthttp.HostClient{
		Addr:                          addr,
		MaxConns:                      4096,
		MaxIdleConnDuration:           60 * time.Second,
		StreamResponseBody:            true,
		DisableHeaderNamesNormalizing: true,
		DisablePathNormalizing:        true,
		NoDefaultUserAgentHeader:      true,
		// fasthttp's own retry resends idempotent requests on a broken
		// keep-alive connection; further retries are ours (another backend).
		MaxIdemponentCallAttempts: 2,
		ReadBufferSize:            16 << 10,
		WriteBufferSize:           16 << 10,
	}
}

// Available, Active and Weight make a Target a balance.Candidate.
func (t *Target) Available() bool {
	if t.Backend == nil {
		return true
	}
	return t.Backend.Available()
}

func (t *Target) unavailable() bool { return !t.Available() }

// Active is the backend's requests in flight.
func (t *Target) Active() int64 {
	if t.Backend == nil {
		return 0
	}
	return t.Backend.Active()
}

// Weight is the backend's balancing weight.
func (t *Target) Weight() int {
	if t.Backend == nil {
		return 1
	}
	return t.Backend.Weight()
}

// CloseIdle closes the target's idle keep-alive connections (the lane's
// loops close theirs at their next tick, and drop the target).
func (t *Target) CloseIdle() {
	t.closes.Add(1)
	if t.hc != nil {
		t.hc.CloseIdleConnections()
	}
}

// Pool is what a route forwards to: its targets and their policy.
type Pool struct {
	Targets  []*Target
	Selector balance.Selector
	// RequestTimeout bounds one proxied request until the response headers
	// arrive (0: none; streams and WebSockets may then live long).
	RequestTimeout time.Duration
	// MaxBodyBytes caps request bodies (413 beyond); 0: unlimited.
	MaxBodyBytes int64
	// Before runs first for every request; returning true means the
	// request has been answered.
	Before func(ctx *fasthttp.RequestCtx) bool
	// CORS is the route's cross-origin policy (nil or mode off: none).
	CORS *cors.Policy
	// Observe, if set, is called once per request with the target index
	// (-1: none), the status code and, when Timed, the time to response
	// headers (0 otherwise).
	Observe func(target int, status int, d time.Duration)
	Timed   bool

	cands  []balance.Candidate
	needIP bool // the selector hashes the client address
	corsOn bool // CORS applies (a policy whose mode is not off)
	lane   bool // requests may take the lane (laneEligible)
}

// Options configure a Proxy.
type Options struct {
	ID                string        // this gateway's ID, for loop detection
	Name              string        // route name, for logs and the Server header
	ReadHeaderTimeout time.Duration // time to read a request (default 10s)
	IdleTimeout       time.Duration // keep-alive idle time (default 120s)
	// SendTimeout closes a client connection whose response makes no
	// progress that long (the client reads nothing); 0 = never.
	SendTimeout time.Duration
	// ShowCause puts the cause of an error the gateway answers itself (a
	// dial error, a failed exec: addresses and file paths) in the body.
	// Set it for routes only this machine reaches (a loopback bind); by
	// default the body names the kind of failure and the cause is logged,
	// so a client elsewhere learns nothing of the machine's insides.
	ShowCause bool
	Log       *slog.Logger
}

// Proxy serves one route's listener.
type Proxy struct {
	opt    Options
	log    *slog.Logger
	causes causeLog // error causes kept out of answers (cause.go)
	pool   atomic.Pointer[Pool]
	srv    *fasthttp.Server

	mu      sync.Mutex
	closed  bool
	conns   map[net.Conn]struct{} // hijacked (upgraded) connections
	wg      sync.WaitGroup
	lane    *lane             // the event-loop fast path (lane.go); nil before Serve
	fb      *listenq.Listener // the fasthttp server's listener: connections the lane did not take
	fbDone  chan struct{}
	serving bool
	ln      net.Listener
}

// New returns a proxy forwarding to pool.
func New(opt Options, pool *Pool) *Proxy {
	if opt.ReadHeaderTimeout <= 0 {
		opt.ReadHeaderTimeout = 10 * time.Second
	}
	if opt.IdleTimeout <= 0 {
		opt.IdleTimeout = 120 * time.Second
	}
	log := opt.Log
	if log == nil {
		log = logging.Discard()
	}
	p := &Proxy{opt: opt, log: log, conns: map[net.Conn]struct{}{}, fb: listenq.New(&net.TCPAddr{}), fbDone: make(chan struct{})}
	p.SetPool(pool)
	p.srv = &fasthttp.Server{
		Handler:                      p.handle,
		Name:                         "warren",
		ReadTimeout:                  opt.ReadHeaderTimeout,
		IdleTimeout:                  opt.IdleTimeout,
		StreamRequestBody:            true,
		MaxRequestBodySize:           streamThreshold,
		DisablePreParseMultipartForm: true,
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
		NoDefaultDate:                true,
		ReadBufferSize:               16 << 10,
		WriteBufferSize:              16 << 10,
		CloseOnShutdown:              true,
		Logger:                       fasthttpLogger{log},
	}
	return p
}

// SetPool replaces the targets of a live proxy; requests already running
// finish on the old pool.
func (p *Proxy) SetPool(pool *Pool) {
	pool.cands = make([]balance.Candidate, len(pool.Targets))
	for i, t := range pool.Targets {
		pool.cands[i] = t
	}
	if pool.Selector == nil {
		pool.Selector = &balance.RoundRobin{}
	}
	_, pool.needIP = pool.Selector.(*balance.IPHash)
	pool.corsOn = pool.CORS != nil && pool.CORS.Mode != config.CORSOff
	pool.lane = laneEligible(pool)
	p.pool.Store(pool)
}

// Pool returns the current pool.
func (p *Proxy) Pool() *Pool { return p.pool.Load() }

// Serve accepts connections on ln until ln is closed. Each connection
// starts on the event-loop lane (lane.go) and moves to the fasthttp
// server for good at its first request the lane does not take.
func (p *Proxy) Serve(ln net.Listener) error {
	p.mu.Lock()
	if p.closed || p.serving {
		p.mu.Unlock()
		return fmt.Errorf("httpproxy: serve %s: %w", ln.Addr(), net.ErrClosed)
	}
	p.serving = true
	p.ln = ln
	lane, err := newLane(p)
	if err != nil {
		p.log.Warn("event-loop lane unavailable; serving every request on the general path", logging.KeyErr, err)
	}
	p.lane = lane
	p.mu.Unlock()
	go func() {
		defer close(p.fbDone)
		p.srv.Serve(p.fb)
	}()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("httpproxy: serve %s: %w", ln.Addr(), err)
		}
		delay = 0
		if lane != nil && p.pool.Load().lane && lane.add(c, nil, true) {
			continue
		}
		p.toGeneral(c)
	}
}

// toGeneral gives a client connection to the fasthttp server.
func (p *Proxy) toGeneral(c net.Conn) {
	if p.opt.SendTimeout > 0 {
		c = &sendConn{Conn: c, timeout: p.opt.SendTimeout}
	}
	p.fb.Push(c)
}

// handOver gives a client connection the lane let go of (its descriptor
// and the bytes it had read) to the fasthttp server; passing marks it
// returnable.
func (p *Proxy) handOver(fd int, pre []byte, passing bool) {
	f := os.NewFile(uintptr(fd), "client")
	nc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		p.log.Debug("handing a connection to the general path failed", logging.KeyErr, err)
		return
	}
	if len(pre) > 0 {
		nc = &prefixConn{Conn: nc, pre: pre}
	}
	if passing {
		nc = &returnable{Conn: nc}
	}
	p.toGeneral(nc)
}

// Shutdown closes the listener, waits for requests in flight (until ctx
// ends), and closes the connections and upgraded connections.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	lane, serving := p.lane, p.serving
	if p.ln != nil {
		p.ln.Close()
	}
	p.mu.Unlock()
	if lane != nil {
		lane.shutdown(ctx.Done())
	}
	err := p.srv.ShutdownWithContext(ctx)
	p.fb.Close()
	if serving {
		<-p.fbDone
	}
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	if err != nil {
		return fmt.Errorf("httpproxy: shutdown: %w", err)
	}
	return nil
}

// Handler returns the request handler (for tests and embedding).
func (p *Proxy) Handler() fasthttp.RequestHandler { return p.handle }

func (p *Proxy) handle(ctx *fasthttp.RequestCtx) {
	pool := p.pool.Load()
	if pool.Before != nil && pool.Before(ctx) {
		return
	}
	target := -1
	if pool.Observe != nil {
		var start time.Time
		if pool.Timed {
			start = time.Now()
		}
		defer func() {
			var d time.Duration
			if pool.Timed {
				d = time.Since(start)
			}
			pool.Observe(target, ctx.Response.StatusCode(), d)
		}()
	}
	hdr := &ctx.Request.Header
	if hops := hdr.Peek(HopHeader); len(hops) > 0 && hasHop(hops, p.opt.ID) {
		p.fail(ctx, fasthttp.StatusLoopDetected, "routing loop: this request already passed through gateway "+p.opt.ID)
		return
	}
	if pool.MaxBodyBytes > 0 && int64(hdr.ContentLength()) > pool.MaxBodyBytes {
		p.fail(ctx, fasthttp.StatusRequestEntityTooLarge, "request body larger than max_body_bytes ("+strconv.FormatInt(pool.MaxBodyBytes, 10)+")")
		return
	}
	if pool.corsOn {
		d, done := applyCORS(ctx, pool.CORS)
		if done {
			return
		}
		defer finishCORS(ctx, d)
	}
	setForwarded(ctx, p.opt.ID)
	if hdr.ConnectionUpgrade() {
		target = p.upgrade(ctx, pool)
		return
	}
	dropHopHeaders(hdr)
	if pool.MaxBodyBytes > 0 && hdr.ContentLength() < 0 {
		// Chunked: a small body has been read already; a large one streams
		// through a reader that fails past the limit.
		if !ctx.Request.IsBodyStream() {
			if int64(len(ctx.Request.Body())) > pool.MaxBodyBytes {
				p.fail(ctx, fasthttp.StatusRequestEntityTooLarge, "request body larger than max_body_bytes ("+strconv.FormatInt(pool.MaxBodyBytes, 10)+")")
				return
			}
		} else {
			ctx.Request.SetBodyStream(&limitReader{r: ctx.RequestBodyStream(), n: pool.MaxBodyBytes}, -1)
		}
	}

	// Whether the body streams from the client: a failed attempt may have
	// read part of it, and the client stream is closed (IsBodyStream false)
	// once an attempt has written it.
	streamed := ctx.Request.IsBodyStream()
	n := len(pool.Targets)
	clientIP := ""
	if pool.needIP && n > 1 {
		clientIP = remoteIP(ctx)
	}
	var lastErr error
	tried := uint64(0) // bitmask of tried targets (first 64)
	for attempt := 0; attempt < n; attempt++ {
		idx := 0
		if n > 1 {
			// One target needs no choice: a backend that cannot take the
			// request answers with its own error (Acquire), as lastResort would.
			idx = pool.Selector.Select(pool.cands, clientIP)
		}
		if idx >= 0 && idx < 64 && tried&(1<<idx) != 0 {
			idx = nextUntried(pool, tried)
		}
		if idx < 0 && attempt == 0 {
			// Nothing is in rotation (all in backoff or taken out by
			// passive health): try one anyway, as nginx does, so the client
			// gets that backend's real error or a recovered backend.
			idx = lastResort(pool)
		}
		if idx < 0 {
			break
		}
		if idx < 64 {
			tried |= 1 << idx
		}
		target = idx
		t := pool.Targets[idx]
		if t.Internal != nil {
			t.Internal(ctx)
			return
		}
		b := t.Backend
		if err := b.AcquireConn(ctx, ctx.Conn()); err != nil {
			lastErr = err
			if n > 1 && retryableAcquire(err) {
				continue
			}
			p.acquireFailed(ctx, err)
			return
		}
		sent, err := p.forward(ctx, pool, t)
		if err == nil {
			b.Succeed()
			p.giveBack(ctx, pool, streamed)
			return
		}
		b.Fail()
		lastErr = err
		if sent && !(isIdempotent(ctx) && !streamed) {
			// A streamed body is gone once sent (IsBodyStream reads false
			// after the failed attempt): a retry would send a truncated one.
			break
		}
		p.log.Debug("retrying on another backend", logging.KeyBackend, b.Name(), logging.KeyErr, err)
	}
	if lastErr == nil {
		p.fail(ctx, fasthttp.StatusServiceUnavailable, "no backend available for route "+p.opt.Name)
		return
	}
	if errors.Is(lastErr, backend.ErrStartTimeout) || errors.Is(lastErr, backend.ErrExited) ||
		errors.Is(lastErr, backend.ErrBackoff) || errors.Is(lastErr, backend.ErrLaunch) ||
		errors.Is(lastErr, backend.ErrQueueFull) || errors.Is(lastErr, backend.ErrStopped) {
		p.acquireFailed(ctx, lastErr)
		return
	}
	if errors.Is(lastErr, fasthttp.ErrTimeout) {
		p.fail(ctx, fasthttp.StatusGatewayTimeout, "backend did not answer within request_timeout")
		return
	}
	if errors.Is(lastErr, errBodyTooLarge) {
		p.fail(ctx, fasthttp.StatusRequestEntityTooLarge, "request body larger than max_body_bytes")
		return
	}
	p.fail(ctx, fasthttp.StatusBadGateway, p.cause("backend error", lastErr))
}

func nextUntried(pool *Pool, tried uint64) int {
	for i, t := range pool.Targets {
		if i < 64 && tried&(1<<i) == 0 && t.Available() {
			return i
		}
	}
	return -1
}

func lastResort(pool *Pool) int {
	for i, t := range pool.Targets {
		if t.Backend == nil || t.Backend.State() != backend.Stopped {
			return i
		}
	}
	return -1
}

// retryableAcquire: the backend could not take the request and nothing was
// sent, so another backend may.
func retryableAcquire(err error) bool {
	return errors.Is(err, backend.ErrBackoff) || errors.Is(err, backend.ErrExited) ||
		errors.Is(err, backend.ErrLaunch) || errors.Is(err, backend.ErrQueueFull) ||
		errors.Is(err, backend.ErrStopped) || errors.Is(err, backend.ErrStartTimeout)
}

func (p *Proxy) acquireFailed(ctx *fasthttp.RequestCtx, err error) {
	code := fasthttp.StatusBadGateway
	switch {
	case errors.Is(err, backend.ErrBackoff):
		// The backend failed its last start (crash, timeout): 502 at once,
		// whatever the cause, until the backoff lets a new start happen.
	case errors.Is(err, backend.ErrStartTimeout):
		code = fasthttp.StatusGatewayTimeout
	case errors.Is(err, backend.ErrQueueFull), errors.Is(err, backend.ErrStopped):
		code = fasthttp.StatusServiceUnavailable
	case errors.Is(err, backend.ErrClientGone):
		// Nobody reads the answer; 499 (nginx's "client closed request")
		// is what the metrics record.
		code = StatusClientClosed
		ctx.SetConnectionClose()
	}
	msg := err.Error() // the backend's errors say what kind they are
	if !p.opt.ShowCause {
		msg = p.cause(acquireKind(err), err)
	}
	p.fail(ctx, code, msg)
}

// acquireKind names, without details, why no backend took a request.
func acquireKind(err error) string {
	switch {
	case errors.Is(err, backend.ErrBackoff):
		return "backend failed its last start; waiting before the next"
	case errors.Is(err, backend.ErrStartTimeout):
		return "backend did not become ready within start_timeout"
	case errors.Is(err, backend.ErrExited):
		return "backend exited while starting"
	case errors.Is(err, backend.ErrLaunch):
		return "backend could not be started"
	case errors.Is(err, backend.ErrQueueFull):
		return "too many requests waiting for the backend"
	case errors.Is(err, backend.ErrStopped):
		return "backend stopped"
	case errors.Is(err, backend.ErrClientGone):
		return "client went away"
	}
	return "backend error"
}

// forward sends the request to t and streams the response back. sent
// reports whether any byte may have reached the backend.
func (p *Proxy) forward(ctx *fasthttp.RequestCtx, pool *Pool, t *Target) (sent bool, err error) {
	if g := t.Backend.Generation(); g != t.gen.Load() && t.gen.Swap(g) != g {
		// A new process: idle connections to the old one are dead (a
		// request on one would fail after it was sent).
		t.hc.CloseIdleConnections()
	}
	resp := fasthttp.AcquireResponse()
	if pool.RequestTimeout > 0 {
		err = t.hc.DoTimeout(&ctx.Request, resp, pool.RequestTimeout)
	} else {
		err = t.hc.Do(&ctx.Request, resp)
	}
	if err != nil {
		fasthttp.ReleaseResponse(resp)
		t.Backend.Release()
		return !isDialError(err), err
	}
	// Headers: copy, minus hop-by-hop ones; the body streams and the
	// backend stays in use until it has been written out.
	resp.Header.CopyTo(&ctx.Response.Header)
	ctx.Response.Header.ResetConnectionClose()
	ctx.Response.Header.Del("Keep-Alive")
	ctx.Response.Header.Del("Proxy-Connection")
	if ctx.IsHead() || resp.Header.ContentLength() == 0 && !resp.IsBodyStream() {
		resp.CloseBodyStream()
		fasthttp.ReleaseResponse(resp)
		t.Backend.Release()
		if ctx.IsHead() {
			ctx.Response.SkipBody = true
		}
		return true, nil
	}
	cl := resp.Header.ContentLength()
	if cl == -2 { // identity body until close: re-framed as chunked
		cl = -1
	}
	ctx.Response.SetBodyStream(&bodyRelease{r: resp.BodyStream(), resp: resp, b: t.Backend}, cl)
	return true, nil
}

// bodyRelease streams a backend response body and, once the server has
// written it (or given up), returns the connection to the pool and
// releases the backend.
type bodyRelease struct {
	r    io.Reader
	resp *fasthttp.Response
	b    *backend.Backend
	once sync.Once
}

func (r *bodyRelease) Read(p []byte) (int, error) {
	if r.r == nil {
		return 0, io.EOF
	}
	return r.r.Read(p)
}

func (r *bodyRelease) Close() error { return r.CloseWithError(nil) }

func (r *bodyRelease) CloseWithError(err error) error {
	r.once.Do(func() {
		if rc, ok := r.r.(fasthttp.ReadCloserWithError); ok {
			rc.CloseWithError(err)
		}
		fasthttp.ReleaseResponse(r.resp)
		r.b.Release()
	})
	return nil
}

func isDialError(err error) bool {
	if errors.Is(err, fasthttp.ErrDialTimeout) || errors.Is(err, fasthttp.ErrNoFreeConns) {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}

func isIdempotent(ctx *fasthttp.RequestCtx) bool {
	switch string(ctx.Method()) {
	case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
		return true
	}
	return false
}

func (p *Proxy) fail(ctx *fasthttp.RequestCtx, code int, msg string) {
	ctx.Response.Reset()
	ctx.SetStatusCode(code)
	ctx.SetContentType(gatewayBodyType)
	ctx.SetBodyString(gatewayBody(msg))
}

// gatewayBodyType and gatewayBody are the answer the gateway writes
// itself (on both paths).
const gatewayBodyType = "text/plain; charset=utf-8"

func gatewayBody(msg string) string { return "warren gateway: " + msg + "\n" }

func hasHop(hops []byte, id string) bool {
	for len(hops) > 0 {
		var part []byte
		if i := bytes.IndexByte(hops, ','); i >= 0 {
			part, hops = hops[:i], hops[i+1:]
		} else {
			part, hops = hops, nil
		}
		if string(bytes.TrimSpace(part)) == id {
			return true
		}
	}
	return false
}

func remoteIP(ctx *fasthttp.RequestCtx) string {
	if a, ok := ctx.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	return ctx.RemoteAddr().String()
}

var hopHeaders = []string{"Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "TE", "Trailer", "Upgrade"}

// hopHeaderLen has a bit set for the length of every hop-by-hop name, so
// that one pass over the request's headers, mostly comparing lengths,
// tells whether any needs deleting.
var hopHeaderLen = func() uint64 {
	var m uint64
	for _, k := range hopHeaders {
		m |= 1 << len(k)
	}
	return m
}()

func hasHopHeader(h *fasthttp.RequestHeader) bool {
	for k := range h.All() {
		if isHopHeader(k) {
			return true
		}
	}
	return false
}

// isHopHeader reports whether k names a hop-by-hop header (hopHeaders).
func isHopHeader(k []byte) bool {
	if len(k) < 64 && hopHeaderLen&(1<<len(k)) != 0 {
		for _, hk := range hopHeaders {
			if bytes.EqualFold(k, []byte(hk)) {
				return true
			}
		}
	}
	return false
}

func dropHopHeaders(h *fasthttp.RequestHeader) {
	// Headers named in Connection are hop-by-hop too.
	if c := h.Peek("Connection"); len(c) > 0 {
		for _, f := range bytes.Split(c, []byte{','}) {
			if f = bytes.TrimSpace(f); len(f) > 0 && !bytes.EqualFold(f, []byte("close")) && !bytes.EqualFold(f, []byte("keep-alive")) {
				h.DelBytes(f)
			}
		}
	}
	if hasHopHeader(h) {
		for _, k := range hopHeaders {
			h.Del(k)
		}
	}
	h.ResetConnectionClose()
}

var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// setForwarded sets X-Forwarded-For (appended), X-Forwarded-Proto,
// X-Forwarded-Host, Forwarded (appended, RFC 7239) and the hop header,
// building values in a pooled buffer (no allocation per request).
func setForwarded(ctx *fasthttp.RequestCtx, id string) {
	h := &ctx.Request.Header
	bp := scratchPool.Get().(*[]byte)
	buf := (*bp)[:0]
	defer func() { *bp = buf; scratchPool.Put(bp) }()

	var ipb [64]byte
	ip := appendIP(ipb[:0], ctx.RemoteAddr())
	buf = appendXFF(buf[:0], h.Peek("X-Forwarded-For"), ip)
	h.SetBytesV("X-Forwarded-For", buf)
	proto := "http"
	if ctx.IsTLS() {
		proto = "https"
	}
	h.Set("X-Forwarded-Proto", proto)
	host := h.Host()
	if len(host) > 0 {
		h.SetBytesV("X-Forwarded-Host", host)
	}
	buf = appendForwarded(buf[:0], h.Peek("Forwarded"), ip, proto, host)
	h.SetBytesV("Forwarded", buf)
	buf = appendHops(buf[:0], h.Peek(HopHeader), id)
	h.SetBytesV(HopHeader, buf)
}

// The forwarding headers' values, shared by both paths (setForwarded and
// the lane's appendLaneReq), so that they stay the same.

// appendXFF appends X-Forwarded-For's value: the prior one, then ip.
func appendXFF(dst, prior, ip []byte) []byte {
	if len(prior) > 0 {
		dst = append(append(dst, prior...), ", "...)
	}
	return append(dst, ip...)
}

// appendForwarded appends RFC 7239 Forwarded's value: the prior one, then
// this hop (an IPv6 address quoted in brackets, the host quoted).
func appendForwarded(dst, prior, ip []byte, proto string, host []byte) []byte {
	if len(prior) > 0 {
		dst = append(append(dst, prior...), ", "...)
	}
	dst = append(dst, "for="...)
	if bytes.IndexByte(ip, ':') >= 0 {
		dst = append(append(append(dst, `"[`...), ip...), `]"`...)
	} else {
		dst = append(dst, ip...)
	}
	dst = append(append(dst, ";proto="...), proto...)
	if len(host) > 0 {
		dst = strconv.AppendQuote(append(dst, ";host="...), string(host))
	}
	return dst
}

// appendHops appends the hop header's value: the prior one, then id.
func appendHops(dst, prior []byte, id string) []byte {
	if len(prior) > 0 {
		dst = append(append(dst, prior...), ',')
	}
	return append(dst, id...)
}

// appendIP appends a's IP address (an IPv4-mapped one unmapped) without
// allocating.
func appendIP(dst []byte, a net.Addr) []byte {
	if ta, ok := a.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(ta.IP); ok {
			return ip.Unmap().AppendTo(dst)
		}
	}
	return append(dst, a.String()...)
}

var errBodyTooLarge = errors.New("request body larger than max_body_bytes")

// limitReader fails a streamed (chunked) body beyond n bytes.
type limitReader struct {
	r io.Reader
	n int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if l.n < 0 {
		return n, errBodyTooLarge
	}
	return n, err
}

// upgrade turns the connection into a byte pipe to a backend (WebSocket
// and any other Upgrade). The backend answers the handshake itself.
func (p *Proxy) upgrade(ctx *fasthttp.RequestCtx, pool *Pool) int {
	idx := pool.Selector.Select(pool.cands, remoteIP(ctx))
	if idx < 0 {
		p.fail(ctx, fasthttp.StatusServiceUnavailable, "no backend available for route "+p.opt.Name)
		return idx
	}
	t := pool.Targets[idx]
	if t.Internal != nil {
		t.Internal(ctx)
		return idx
	}
	b := t.Backend
	if err := b.AcquireConn(ctx, ctx.Conn()); err != nil {
		p.acquireFailed(ctx, err)
		return idx
	}
	// Serialize the request now: ctx is recycled once the handler returns.
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	if err := ctx.Request.Write(w); err != nil {
		b.Release()
		p.fail(ctx, fasthttp.StatusBadRequest, "cannot forward upgrade request: "+err.Error())
		return idx
	}
	w.Flush()
	head := buf.Bytes()
	addr := b.Addr()
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(c net.Conn) {
		defer b.Release()
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return
		}
		p.conns[c] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		defer func() {
			p.mu.Lock()
			delete(p.conns, c)
			p.mu.Unlock()
			p.wg.Done()
		}()
		p.pipeUpgrade(c, addr, head, b)
	})
	ctx.SetStatusCode(fasthttp.StatusSwitchingProtocols) // for Observe only: no response is written
	return idx
}

func (p *Proxy) pipeUpgrade(client net.Conn, addr string, head []byte, b *backend.Backend) {
	client.SetDeadline(time.Time{})
	up, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		b.Fail()
		io.WriteString(client, "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 40\r\n\r\nwarren gateway: backend not reachable.\r\n")
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		up.Close()
		return
	}
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.conns, up)
		p.mu.Unlock()
		up.Close()
	}()
	if _, err := up.Write(head); err != nil {
		return
	}
	b.Succeed()
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(up, client)
		closeWrite(up)
	}()
	io.Copy(client, up)
	closeWrite(client)
	// The client may still be sending; once the backend has finished, give
	// the other direction a moment, then tear both down.
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		client.Close()
		up.Close()
		<-done
	}
}

func closeWrite(c net.Conn) {
	type cw interface{ CloseWrite() error }
	if x, ok := c.(cw); ok {
		x.CloseWrite()
		return
	}
	c.Close()
}

type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Debug(fmt.Sprintf(format, args...))
}

// OpenConns is the number of client connections open on the listener.
func (p *Proxy) OpenConns() int {
	n := int(p.srv.GetOpenConnectionsCount())
	p.mu.Lock()
	if p.lane != nil {
		n += int(p.lane.conns.Load())
	}
	p.mu.Unlock()
	return n
}
