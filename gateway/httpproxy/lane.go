package httpproxy

import (
	"errors"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/sys/unix"

	"github.com/warren-mesh/warren/gateway/backend"
	"github.com/warren-mesh/warren/internal/evloop"
)

// The lane is the proxy's fast path: client connections are served by a
// few event loops (internal/evloop, one per CPU) that parse a request head,
// rewrite the forwarding headers, write it on a pooled keep-alive
// connection to a ready backend and copy the response back, with no
// goroutine per connection and no read that finds nothing. On the 2-core
// reference machine it takes 27-33 µs of CPU per proxied request where
// nginx takes 32-41 and the fasthttp path alone took 34-42
// (BenchmarkHTTPProxy, same runs for warren and nginx).
//
// It takes only plain requests: HTTP/1.1, a Host, an origin-form target,
// no body or a Content-Length body of at most 64 KiB, a head of at most
// 16 KiB, no Upgrade/Expect/Transfer-Encoding or other hop-by-hop header
// but "Connection: keep-alive" or "close", no Origin when the route's CORS
// policy is on, on a route without the internal handler whose backends
// are all ready now (so a cold start, and the balancer's choice that goes
// with it, happen once, on the general path).
// The first request that is anything else hands its connection, with the
// bytes already read, to the fasthttp path for good (fallback): cold
// starts, WebSockets, chunked uploads, errors the gateway answers itself
// (508, 413, 400) all stay there, written once.

// laneHighWater is the client output queued before the lane stops reading
// the backend (a slow client then slows the backend through TCP).
const laneHighWater = 256 << 10

// laneTick is how often the loops check timeouts.
const laneTick = 100 * time.Millisecond

// upstreamIdle closes pooled backend connections unused that long (as
// the fasthttp path's MaxIdleConnDuration).
const upstreamIdle = 60 * time.Second

type lane struct {
	p      *Proxy
	loops  []*laneLoop
	next   atomic.Uint32
	conns  atomic.Int64  // client connections in the loops
	served atomic.Int64  // requests the lane took (tests)
	drain  atomic.Bool   // shutting down: close connections as they go idle
	closed chan struct{} // closed (once) when draining and the last connection is gone
	once   sync.Once
}

func newLane(p *Proxy) (*lane, error) {
	ln := &lane{p: p, closed: make(chan struct{})}
	n := runtime.GOMAXPROCS(0)
	for range n {
		ll := &laneLoop{lane: ln, idle: map[*Target][]*laneUp{}, clients: map[*laneClient]struct{}{}}
		l, err := evloop.New(laneTick, ll.tick)
		if err != nil {
			for _, o := range ln.loops {
				o.l.Stop()
			}
			return nil, err
		}
		ll.l = l
		ll.now = time.Now()
		ln.loops = append(ln.loops, ll)
		go l.Run()
	}
	return ln, nil
}

// laneEligible reports whether requests to pool may take the lane at all
// (computed once, by SetPool: Pool.lane).
func laneEligible(pool *Pool) bool {
	if pool.Before != nil {
		return false
	}
	for _, t := range pool.Targets {
		if t.Internal != nil || !t.ap.IsValid() {
			return false
		}
	}
	return len(pool.Targets) > 0
}

// allReady: every backend of the pool is ready (one atomic load each).
func allReady(pool *Pool) bool {
	for _, t := range pool.Targets {
		if t.Backend.State() != backend.Ready {
			return false
		}
	}
	return true
}

// add takes a client connection into a loop, with pre, bytes already read
// from it, as the start of its input; or returns false (the caller then
// serves it on the general path). first: a new connection, whose first
// request gets ReadHeaderTimeout from now, as on the general path
// (fasthttp's ReadTimeout; IdleTimeout runs only between requests); a
// connection given back by the general path is between requests.
func (ln *lane) add(nc net.Conn, pre []byte, first bool) bool {
	sc, ok := nc.(*net.TCPConn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	fd := -1
	rc.Control(func(s uintptr) { fd, err = unix.Dup(int(s)) })
	if err != nil || fd < 0 {
		return false
	}
	ip := appendIP(nil, nc.RemoteAddr())
	nc.Close() // the duplicate keeps the socket; Go's poller lets go of it
	ll := ln.loops[int(ln.next.Add(1))%len(ln.loops)]
	ln.conns.Add(1)
	err = ll.l.Post(func() {
		if ln.drain.Load() { // accepted just before the listener closed
			unix.Close(fd)
			ln.connGone()
			return
		}
		ll.now = time.Now() // the tick does not run while a loop is empty
		lc := &laneClient{ll: ll, ip: ip, ipStr: string(ip), last: ll.now}
		if first {
			lc.headStart = ll.now
		}
		c, err := ll.l.Add(fd, clientHandler{}, lc)
		if err != nil {
			unix.Close(fd)
			ln.connGone()
			return
		}
		lc.c = c
		ll.clients[lc] = struct{}{}
		if len(pre) > 0 {
			c.Unread(pre)
			lc.next()
		}
	})
	if err != nil {
		unix.Close(fd)
		ln.connGone()
	}
	return true
}

func (ln *lane) connGone() {
	if ln.conns.Add(-1) == 0 && ln.drain.Load() {
		// Once: two loops may get here together (a connection accepted as
		// draining began comes and goes at once).
		ln.once.Do(func() { close(ln.closed) })
	}
}

// shutdown closes idle connections now and the others when their
// response is done, waits for that (until ctx ends), then stops the loops.
func (ln *lane) shutdown(done <-chan struct{}) {
	ln.drain.Store(true)
	for _, ll := range ln.loops {
		ll.l.Post(ll.closeIdle)
	}
	if ln.conns.Load() > 0 {
		select {
		case <-ln.closed:
		case <-done:
		}
	}
	for _, ll := range ln.loops {
		ll.l.Stop()
	}
}

// laneLoop is one loop's state; only its goroutine touches it.
type laneLoop struct {
	lane    *lane
	l       *evloop.Loop
	now     time.Time // the last tick: coarse clock for idle timeouts
	idle    map[*Target][]*laneUp
	clients map[*laneClient]struct{}
	scratch []byte
}

func (ll *laneLoop) tick(now time.Time) {
	ll.now = now
	opt := ll.lane.p.opt
	for lc := range ll.clients {
		switch {
		case lc.stalled(now, opt.SendTimeout):
			lc.c.Close()
		case lc.busy:
			// Until the final response's head (an interim 1xx does not
			// count, as on the general path).
			if lc.status < 200 && lc.pool.RequestTimeout > 0 && now.Sub(lc.start) > lc.pool.RequestTimeout {
				lc.gatewayError(fasthttp.StatusGatewayTimeout, "backend did not answer within request_timeout", true)
			}
		case lc.headStart != (time.Time{}) && lc.c.Queued() == 0:
			// The time to read a request runs once the responses before it
			// are out (OnWritable restarts it), as on the general path: a
			// slow reader of a queued response is not cut.
			if now.Sub(lc.headStart) > opt.ReadHeaderTimeout {
				lc.c.Close()
			}
		case lc.c.Queued() == 0 && now.Sub(lc.last) > opt.IdleTimeout:
			lc.c.Close()
		}
	}
	for t, ups := range ll.idle {
		kept := ups[:0]
		for _, up := range ups {
			if up.c.Closed() {
				continue
			}
			if now.Sub(up.since) > upstreamIdle || up.stale() {
				// Too old, to a process that is gone, or to a target whose
				// idle connections were closed (CloseIdle: a reload removed
				// it; the map then lets go of it too).
				up.c.Close()
				continue
			}
			kept = append(kept, up)
		}
		if len(kept) == 0 {
			delete(ll.idle, t)
		} else {
			ll.idle[t] = kept
		}
	}
}

// closeIdle (shutdown) closes the connections with no request in flight.
func (ll *laneLoop) closeIdle() {
	for lc := range ll.clients {
		if !lc.busy {
			lc.closeAfterOutput() // a finished response may still be queued
		}
	}
	for t, ups := range ll.idle {
		for _, up := range ups {
			up.c.Close()
		}
		delete(ll.idle, t)
	}
}

// upstream returns a pooled connection to t (unless fresh), or dials one.
func (ll *laneLoop) upstream(t *Target, fresh bool) (*laneUp, error) {
	ups := ll.idle[t]
	for len(ups) > 0 && !fresh {
		up := ups[len(ups)-1]
		ups = ups[:len(ups)-1]
		ll.idle[t] = ups
		if up.c.Closed() {
			continue
		}
		if up.stale() {
			// A new process: connections to the old one are dead.
			up.c.Close()
			continue
		}
		up.reused = true
		return up, nil
	}
	up := &laneUp{ll: ll, t: t, connecting: true, gen: t.Backend.Generation(), epoch: t.closes.Load()}
	c, err := ll.l.Dial(sockaddr(t.ap), upHandler{}, up)
	if err != nil {
		return nil, err
	}
	up.c = c
	return up, nil
}

// laneClient is one client connection in a loop.
type laneClient struct {
	ll    *laneLoop
	c     *evloop.Conn
	ip    []byte
	ipStr string
	last  time.Time // last activity (coarse)

	headStart time.Time // a request head has started arriving
	busy      bool      // a request is in flight
	req       laneReq
	out       []byte // the request as sent upstream (kept for a retry)
	pool      *Pool
	idx       int
	t         *Target
	up        *laneUp
	start     time.Time // request start (Timed or RequestTimeout)
	respStart time.Duration
	status    int
	retried   bool
	tried     uint64
	closeReq  bool // the request asked to close the connection after it
	recorded  bool // the observer has been told about this request

	respStarted   bool
	eof           bool // the client finished sending: close once its requests are answered
	closeWhenSent bool
	closeAfter    bool // the response ended with the backend connection: close after it
	fallbackWhen  bool // hand over to the general path once output is out
	passing       bool // ... for a passing reason: the connection may come back (returnable)
	waitOut       bool // the next request waits for the client to read its output

	sentMark  uint64    // c.Sent() when the tick last saw output move
	ackMark   uint64    // the client's acknowledged bytes then (TCP_INFO)
	stallFrom time.Time // since when queued output has not moved (zero: none queued)
}

// stalled reports, from the tick, that output has waited for the client
// longer than send_timeout while the client acknowledged no byte (see
// sendtimeout.go). While the socket takes output, the count it has taken
// tells; TCP_INFO is asked only when that has not moved.
func (lc *laneClient) stalled(now time.Time, timeout time.Duration) bool {
	if lc.c.Queued() == 0 || timeout <= 0 {
		lc.stallFrom = time.Time{}
		return false
	}
	if lc.c.Sent() == lc.sentMark && !lc.stallFrom.IsZero() {
		acked, ok := ackedFd(lc.c.Fd())
		if !ok || acked == lc.ackMark {
			return now.Sub(lc.stallFrom) > timeout
		}
		lc.ackMark = acked
	}
	lc.sentMark, lc.stallFrom = lc.c.Sent(), now
	return false
}

type clientHandler struct{}

func (clientHandler) OnRead(c *evloop.Conn) {
	lc := c.Ctx.(*laneClient)
	lc.last = lc.ll.now
	if c.EOF() {
		lc.eof = true
		if !lc.busy && !lc.fallbackWhen {
			lc.closeAfterOutput() // a finished response may still be queued
			return
		}
	}
	if lc.busy || lc.fallbackWhen {
		if len(c.In()) > maxLaneHead+maxLaneBody {
			c.PauseRead() // pipelined requests wait in the socket
		}
		return
	}
	lc.next()
}

func (clientHandler) OnWritable(c *evloop.Conn) {
	lc := c.Ctx.(*laneClient)
	lc.last = lc.ll.now
	if lc.headStart != (time.Time{}) {
		lc.headStart = lc.ll.now
	}
	if lc.up != nil && lc.up.paused {
		lc.up.paused = false
		lc.up.c.ResumeRead()
	}
	switch {
	case lc.closeWhenSent:
		c.Close()
	case lc.fallbackWhen:
		lc.fallback(lc.passing)
	case lc.waitOut:
		lc.waitOut = false
		lc.next()
	}
}

func (clientHandler) OnConnect(*evloop.Conn, error) {}

func (clientHandler) OnClose(c *evloop.Conn, err error) {
	lc := c.Ctx.(*laneClient)
	delete(lc.ll.clients, lc)
	if lc.busy {
		status := lc.status
		if status < 200 { // no final response began
			status = StatusClientClosed
		}
		lc.endRequest(status, false)
	}
	lc.ll.lane.connGone()
}

// next starts the request at the head of the input, if it is complete.
func (lc *laneClient) next() {
	c := lc.c
	if c.Queued() > laneHighWater {
		// The client does not read its responses: take no more requests
		// (pipelined ones wait in the socket) until it has (OnWritable),
		// as the general path's blocked write does. Otherwise every
		// pipelined request queues its response, up to evloop's cap.
		lc.waitOut = true
		c.PauseRead()
		return
	}
	c.ResumeRead()
	in := c.In()
	if len(in) == 0 {
		lc.headStart = time.Time{}
		if c.EOF() {
			lc.closeAfterOutput() // the client has no more requests
		}
		return
	}
	if lc.headStart == (time.Time{}) {
		lc.headStart = lc.ll.now
	}
	ok, err := parseLaneReq(in, &lc.req)
	if err != nil {
		lc.fallback(false)
		return
	}
	if !ok || len(in) < lc.req.headLen+lc.req.bodyLen {
		if c.EOF() {
			lc.closeAfterOutput() // a partial request and no more to come
		}
		return
	}
	p := lc.ll.lane.p
	pool := p.pool.Load()
	if !pool.lane || pool.corsOn && lc.req.origin || len(lc.req.hops) > 0 && hasHop(lc.req.hops, p.opt.ID) ||
		pool.MaxBodyBytes > 0 && int64(lc.req.bodyLen) > pool.MaxBodyBytes {
		lc.fallback(false)
		return
	}
	if !allReady(pool) {
		// A start, a backoff or a stopped backend: the general path decides
		// (and the balancer's choice is made once, there).
		lc.fallback(true)
		return
	}
	idx := 0
	if len(pool.Targets) > 1 {
		idx = pool.Selector.Select(pool.cands, lc.ipStr)
	}
	if idx < 0 || !pool.Targets[idx].Backend.TryAcquire() {
		lc.fallback(true) // nothing ready: the general path waits, starts, answers
		return
	}
	lc.pool, lc.idx, lc.t, lc.closeReq = pool, idx, pool.Targets[idx], lc.req.close
	lc.tried = 0
	if idx < 64 {
		lc.tried = 1 << idx
	}
	lc.ll.lane.served.Add(1)
	lc.out = appendLaneReq(lc.out[:0], in, &lc.req, lc.ip, p.opt.ID)
	c.Consume(lc.req.headLen + lc.req.bodyLen)
	lc.headStart = time.Time{}
	lc.busy, lc.respStarted, lc.retried, lc.status, lc.respStart, lc.recorded = true, false, false, 0, 0, false
	if pool.Timed || pool.RequestTimeout > 0 {
		lc.start = time.Now()
	}
	lc.send(false)
}

// send writes the request on a connection to lc.t: a new one when fresh
// (a retry after a pooled one turned out closed: others may be too).
func (lc *laneClient) send(fresh bool) {
	up, err := lc.ll.upstream(lc.t, fresh)
	if err != nil {
		lc.upFailed(nil, err, false)
		return
	}
	lc.up, up.cl = up, lc
	up.reset()
	if !up.connecting {
		up.c.Write(lc.out)
	}
}

// upFailed: the backend connection failed before a response began.
func (lc *laneClient) upFailed(up *laneUp, err error, sent bool) {
	lc.dropUp() // up, when there is one
	if lc.respStarted && lc.status >= 200 {
		// Part of a response is out: the client cannot be told, only cut.
		// (After an interim 1xx only, a final response may still follow:
		// a retry's, or the gateway's 502, as on the general path.)
		lc.endRequest(lc.status, false)
		lc.closeAfterOutput()
		return
	}
	if up != nil && up.reused && !lc.retried && (lc.req.idempotent || !sent) {
		// A pooled connection the backend had closed: once more, on a new one.
		lc.retried = true
		lc.send(true)
		return
	}
	lc.t.Backend.Fail()
	if !sent || lc.req.idempotent { // a lane request's body is always kept whole
		if i := lc.nextTarget(); i >= 0 {
			lc.t.Backend.Release()
			lc.idx, lc.t, lc.retried = i, lc.pool.Targets[i], false
			lc.send(false)
			return
		}
	}
	lc.gatewayError(fasthttp.StatusBadGateway, lc.ll.lane.p.cause("backend error", err), false)
}

// nextTarget picks an untried available backend of the pool (as the
// general path's nextUntried) that is ready, and reserves it.
func (lc *laneClient) nextTarget() int {
	for i := nextUntried(lc.pool, lc.tried); i >= 0; i = nextUntried(lc.pool, lc.tried) {
		lc.tried |= 1 << i
		if lc.pool.Targets[i].Backend.TryAcquire() {
			return i
		}
	}
	return -1
}

// dropUp closes the backend connection of the request in flight, if any,
// and reports whether there was one.
func (lc *laneClient) dropUp() bool {
	if lc.up == nil {
		return false
	}
	lc.up.cl = nil
	lc.up.c.Close()
	lc.up = nil
	return true
}

// gatewayError answers the request in flight with the gateway's own error.
func (lc *laneClient) gatewayError(code int, msg string, closeUp bool) {
	if closeUp && lc.dropUp() {
		lc.t.Backend.Fail()
	}
	body := gatewayBody(msg)
	b := lc.ll.scratch[:0]
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	b = append(b, fasthttp.StatusMessage(code)...)
	b = append(append(append(b, "\r\nContent-Type: "...), gatewayBodyType...), "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	if lc.closing() {
		b = append(b, "\r\nConnection: close"...)
	}
	b = append(b, "\r\n\r\n"...)
	if !lc.req.head {
		b = append(b, body...)
	}
	lc.ll.scratch = b[:0]
	lc.respStarted = true
	lc.record(code)
	lc.c.Write(b)
	lc.endRequest(code, true)
}

// endRequest releases the backend and records the request; ok means the
// client connection may serve the next one.
func (lc *laneClient) endRequest(status int, ok bool) {
	lc.busy = false
	lc.t.Backend.Release()
	lc.t = nil // a keep-alive client must not hold a target a reload removed
	lc.dropUp()
	lc.record(status)
	lc.pool = nil
	if !ok || lc.c.Closed() {
		return
	}
	if lc.closeAfter || lc.closeReq || lc.ll.lane.drain.Load() {
		lc.closeAfterOutput()
		return
	}
	lc.next() // a pipelined request may be waiting (even after the client's EOF)
}

// record reports the request to the pool's observer, once: before the
// write that completes its response where there is one (as the general
// path does: a client that has its answer finds it counted), else when it
// ends.
func (lc *laneClient) record(status int) {
	pool := lc.pool
	if lc.recorded || pool.Observe == nil {
		return
	}
	lc.recorded = true
	var d time.Duration
	if pool.Timed {
		d = lc.respStart
		if d == 0 {
			d = time.Since(lc.start)
		}
	}
	pool.Observe(lc.idx, status, d)
}

// closing: the connection closes after this response (the client asked,
// or the gateway shuts down), which the response says (Connection: close),
// as the general path's server does (CloseOnShutdown).
func (lc *laneClient) closing() bool { return lc.closeReq || lc.ll.lane.drain.Load() }

func (lc *laneClient) closeAfterOutput() {
	if lc.c.Queued() == 0 {
		lc.c.Close()
		return
	}
	lc.closeWhenSent = true
	lc.c.PauseRead()
}

// fallback hands the connection, with what was read, to the general path.
// passing: for a reason of the moment (no backend ready), not one of the
// request (a CORS origin, a body the lane does not take), so the general
// path gives the connection back once it has answered with every backend
// ready (returnable); a keep-alive client that came during a cold start
// would otherwise stay on the slower path.
func (lc *laneClient) fallback(passing bool) {
	c := lc.c
	if c.Queued() > 0 {
		lc.fallbackWhen, lc.passing = true, passing
		c.PauseRead()
		return
	}
	fd, rest, err := c.Detach()
	delete(lc.ll.clients, lc)
	ln := lc.ll.lane
	ln.connGone()
	if err != nil {
		return
	}
	pre := append([]byte(nil), rest...)
	ln.p.wg.Add(1) // Shutdown waits for it (the loops have stopped by then: no Add races Wait)
	go func() {
		defer ln.p.wg.Done()
		ln.p.handOver(fd, pre, passing) // off the loop: the general path may take its time to accept
	}()
}

// laneUp is one connection to a backend.
type laneUp struct {
	ll         *laneLoop
	c          *evloop.Conn
	t          *Target
	cl         *laneClient // the client whose request it carries; nil when idle
	connecting bool
	reused     bool
	paused     bool
	since      time.Time // idle since (coarse)
	gen        uint64    // t.Backend.Generation when dialed
	epoch      uint64    // t.closes when dialed

	headDone bool
	resp     laneResp
	left     int64
	chunks   chunkScanner
}

// stale: the connection must not carry another request (its backend
// process was replaced, or its target's idle connections were closed).
func (up *laneUp) stale() bool {
	return up.gen != up.t.Backend.Generation() || up.epoch != up.t.closes.Load()
}

func (up *laneUp) reset() {
	up.headDone, up.left, up.chunks, up.paused = false, 0, chunkScanner{}, false
}

type upHandler struct{}

func (upHandler) OnConnect(c *evloop.Conn, err error) {
	up := c.Ctx.(*laneUp)
	up.connecting = false
	lc := up.cl
	if lc == nil {
		c.Close()
		return
	}
	if err != nil {
		lc.upFailed(up, err, false)
		return
	}
	c.Write(lc.out)
}

func (upHandler) OnWritable(*evloop.Conn) {}

func (upHandler) OnClose(c *evloop.Conn, err error) {
	up := c.Ctx.(*laneUp)
	if lc := up.cl; lc != nil && errors.Is(err, evloop.ErrStopped) {
		// The loop stops (shutdown's deadline passed): no retry, and no
		// failure counted against the backend.
		up.cl, lc.up = nil, nil
		status := lc.status
		if !lc.respStarted {
			status = fasthttp.StatusBadGateway
		}
		lc.endRequest(status, false)
		lc.c.Close()
		return
	}
	if lc := up.cl; lc != nil {
		if err == nil {
			err = errors.New("connection closed")
		}
		lc.upFailed(up, err, true)
	}
}

func (upHandler) OnRead(c *evloop.Conn) {
	up := c.Ctx.(*laneUp)
	lc := up.cl
	if lc == nil { // idle: the backend closed it, or sent what nobody asked for
		c.Close()
		return
	}
	for {
		in := c.In()
		if !up.headDone {
			if len(in) == 0 {
				if c.EOF() {
					lc.upFailed(up, errors.New("backend closed the connection before answering"), true)
					return
				}
				up.pauseIfBackedUp() // interim 1xx responses count too
				return
			}
			head, ok, err := parseLaneResp(up.ll.scratch[:0], in, respOpts{head: lc.req.head, cors: lc.pool.corsOn, close: lc.closing()}, &up.resp)
			up.ll.scratch = head[:0]
			if err != nil {
				lc.upFailed(up, err, true)
				return
			}
			if !ok {
				if c.EOF() {
					lc.upFailed(up, errors.New("backend closed the connection in the response head"), true)
					return
				}
				// What is left is an incomplete head: more bytes (or EOF)
				// must come, so a paused read resumes with them.
				up.pauseIfBackedUp()
				return
			}
			c.Consume(up.resp.headLen)
			if !lc.respStarted {
				lc.respStarted = true
				if lc.pool.Timed {
					lc.respStart = time.Since(lc.start)
				}
			}
			lc.status = up.resp.status
			if up.resp.status < 200 {
				lc.c.Write(head)
				continue // 1xx: the final response follows
			}
			up.headDone, up.left = true, up.resp.length
			if up.resp.framing == bodyNone {
				lc.record(up.resp.status)
				lc.c.Write(head)
				up.finish()
				return
			}
			if up.resp.framing == bodyLength && up.left <= int64(len(c.In())) && up.left <= 16<<10 {
				// A small body already here: one write with the head.
				n := int(up.left)
				out := append(head, c.In()[:n]...)
				up.ll.scratch = out[:0]
				c.Consume(n)
				lc.record(up.resp.status)
				lc.c.Write(out)
				up.finish()
				return
			}
			lc.c.Write(head)
			continue
		}
		var n int
		done := false
		switch up.resp.framing {
		case bodyLength:
			n = int(min(int64(len(in)), up.left))
			up.left -= int64(n)
			done = up.left == 0
		case bodyChunked:
			var err error
			n, err = up.chunks.scan(in)
			if err != nil {
				lc.c.Write(in[:n])
				lc.upFailed(up, err, true)
				return
			}
			done = up.chunks.done()
		case bodyClose:
			n = len(in)
			done = c.EOF()
		}
		if done {
			lc.record(up.resp.status)
		}
		if n > 0 {
			lc.c.Write(in[:n])
			c.Consume(n)
		}
		if done {
			up.finish()
			return
		}
		if c.EOF() {
			lc.upFailed(up, errors.New("backend closed the connection in the response body"), true)
			return
		}
		up.pauseIfBackedUp()
		return
	}
}

// pauseIfBackedUp stops reading the backend while the client's output is
// above the high-water mark (its OnWritable resumes it). Only with
// nothing left in In that a read would not bring again.
func (up *laneUp) pauseIfBackedUp() {
	if up.cl.c.Queued() > laneHighWater && !up.paused {
		up.paused = true
		up.c.PauseRead()
	}
}

// finish ends a complete response: the backend connection goes back to
// the pool when it can carry another request.
func (up *laneUp) finish() {
	lc := up.cl
	up.cl, lc.up = nil, nil
	reuse := up.resp.keepAlive && len(up.c.In()) == 0 && !up.c.EOF() && !up.paused && !up.stale()
	if reuse {
		up.since = up.ll.now
		up.ll.idle[up.t] = append(up.ll.idle[up.t], up)
	} else {
		up.c.Close()
	}
	if up.resp.framing == bodyClose {
		lc.closeAfter = true // the body ended with the connection: so must the client's
	}
	lc.t.Backend.Succeed()
	lc.last = lc.ll.now
	lc.endRequest(up.resp.status, true)
}

// prefixConn serves bytes the lane already read before the socket's.
type prefixConn struct {
	net.Conn
	mu  sync.Mutex
	pre []byte
}

// SyscallConn lets the general path watch the socket (backend.AcquireConn).
func (c *prefixConn) SyscallConn() (syscall.RawConn, error) { return rawConn(c.Conn) }

// NetConn returns the connection under the wrapper (see socketOf).
func (c *prefixConn) NetConn() net.Conn { return c.Conn }

func (c *prefixConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	if len(c.pre) > 0 {
		n := copy(b, c.pre)
		c.pre = c.pre[n:]
		c.mu.Unlock()
		return n, nil
	}
	c.mu.Unlock()
	return c.Conn.Read(b)
}

// laneAddr parses a backend address for the lane's dialer; invalid when
// it is not a literal IP and port (a host name is left to the general
// path, which resolves it).
func laneAddr(addr string) netip.AddrPort {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// sockaddr builds a new unix.Sockaddr for every dial: Connect writes into
// it, so loops must not share one.
func sockaddr(ap netip.AddrPort) unix.Sockaddr {
	if a := ap.Addr(); a.Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: a.As4()}
	}
	return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
}
