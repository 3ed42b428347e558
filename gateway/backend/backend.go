package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warren-mesh/warren/gateway/balance"
	"github.com/warren-mesh/warren/internal/logging"
	"github.com/warren-mesh/warren/proc"
)

// State is where a backend is in its life.
type State int32

// The states. Dormant and Failed backends start on the next request
// (Failed only once its backoff has passed); Stopped is final.
const (
	Dormant  State = iota // no process; the next request starts one
	Starting              // process launched, waiting for readiness
	Ready                 // serving
	Draining              // no new requests; in-flight ones finish, then the process stops
	Stopped               // closed for good (route removed or gateway shut down)
	Failed                // the last start failed or the process crashed; retried after backoff
)

var stateNames = [...]string{"dormant", "starting", "ready", "draining", "stopped", "failed"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// MarshalText makes states read as words in JSON status.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Restart policies (the names of gateway/config).
const (
	RestartOnDemand  = "on_demand"
	RestartOnFailure = "on_failure"
	RestartAlways    = "always"
	RestartNever     = "never"
)

// forever is a retry time that never comes (failed until Kill).
var forever = time.Unix(1<<62, 0)

// Errors a request can get from Acquire. The HTTP data path maps them to
// status codes: ErrStartTimeout → 504; ErrExited, ErrBackoff, ErrLaunch →
// 502; ErrQueueFull, ErrStopped → 503.
var (
	ErrStartTimeout = errors.New("backend did not become ready within start_timeout")
	ErrExited       = errors.New("backend process exited during start")
	ErrLaunch       = errors.New("backend process could not be started")
	ErrBackoff      = errors.New("backend failed recently; waiting before the next start")
	ErrQueueFull    = errors.New("too many requests waiting for the backend to start")
	ErrStopped      = errors.New("backend is stopped")
)

// Process is a running backend process, as package proc supervises it.
type Process interface {
	PID() int
	Done() <-chan struct{}
	// Stop ends the process (its whole group): SIGTERM, then SIGKILL when
	// ctx expires. It returns once the process is gone.
	Stop(ctx context.Context) error
}

// Launcher starts the backend's process with stdout and stderr going to logs.
// ctx bounds the start itself, not the process's life.
type Launcher func(ctx context.Context, logs io.Writer) (Process, error)

// Config describes one backend. Only Addr or Launch is required.
type Config struct {
	Name   string
	Addr   string   // host:port the backend serves on
	Launch Launcher // nil: a fixed address, always ready, never started
	// Check is one readiness probe; it is polled during start only.
	// Default: a TCP connect to Addr.
	Check        func(ctx context.Context) error
	StartTimeout time.Duration // default 10s
	IdleTimeout  time.Duration // 0: never scale to zero
	StopTimeout  time.Duration // SIGTERM grace before SIGKILL (default 5s)
	MaxQueue     int           // requests allowed to wait for a start (default 1024)
	BackoffMin   time.Duration // first retry delay after a failed start (default 250ms)
	BackoffMax   time.Duration // ceiling of the doubling delay (default 30s)
	Weight       int           // balancing weight (default 1)
	// ReadyInterval caps the readiness poll interval during a start (the
	// first polls are 0.5ms apart, then the interval grows to this). Default 10ms.
	ReadyInterval time.Duration
	// Restart is what happens when the process exits: RestartOnDemand
	// (default: the next request starts it), RestartOnFailure (restart at
	// once, with backoff, after a non-zero exit or a failed start),
	// RestartAlways (after any exit), RestartNever (stay failed until Kill).
	Restart string
	// MaxRetries: consecutive failed starts after which the backend stays
	// failed until Kill (or a reload). 0 = unlimited.
	MaxRetries   int
	LogBytes     int           // captured output kept, in bytes (default 256 KiB)
	MaxFails     int           // passive health: failures that take it out (default 3)
	FailWindow   time.Duration // passive health: failures counted within (default 10s)
	FailCooldown time.Duration // passive health: time out of rotation (default 5s)
	Log          *slog.Logger
	// OnEvent, if set, is told about starts, start failures, restarts and
	// stops ("start", "ready", "start_failed", "exit", "idle_stop", "kill").
	OnEvent func(event string)
	// Busy, if set, reports use the backend cannot see itself (the
	// connections of a socket handed to the process): an idle stop is put
	// off while it returns true, as if a request had just ended.
	Busy func() bool
	// OnClose, if set, runs once when Close has stopped the process (to
	// release what the Launcher holds across starts, such as a socket
	// activation listener).
	OnClose func()
}

// Stats is a snapshot of a backend.
type Stats struct {
	Name      string    `json:"name"`
	Addr      string    `json:"addr"`
	State     State     `json:"state"`
	PID       int       `json:"pid,omitempty"`
	LastPID   int       `json:"last_pid,omitempty"` // the most recent process, running or not
	Active    int64     `json:"active"`
	Requests  uint64    `json:"requests"`
	Starts    uint64    `json:"starts"`
	Failures  uint64    `json:"failures"`
	Waiting   int       `json:"waiting,omitempty"` // requests queued behind a start
	LastError string    `json:"last_error,omitempty"`
	Since     time.Time `json:"since"`
	Healthy   bool      `json:"healthy"`
}

// attempt is one start; every request waiting for it sees its outcome.
type attempt struct {
	done chan struct{}
	err  error
}

// Backend is one backend of a route. Create it with New and Close it.
type Backend struct {
	cfg  Config
	log  *slog.Logger
	logs *proc.LogRing

	passive balance.Passive

	state    atomic.Int32
	active   atomic.Int64
	requests atomic.Uint64
	lastUsed atomic.Int64  // unix nanos of the last Release
	gen      atomic.Uint64 // processes that became ready (Generation)

	mu       sync.Mutex
	att      *attempt      // current start, while Starting
	changed  chan struct{} // closed and replaced on every state change
	waiters  int
	proc     Process
	since    time.Time
	retryAt  time.Time
	failRun  int // consecutive failed starts (backoff exponent)
	lastErr  error
	starts   uint64
	failures uint64
	lastPID  int
	closing  bool

	killCh    chan struct{}
	closed    chan struct{} // closed when Close has stopped the process
	closeOnce sync.Once
	ctx       context.Context // canceled by Close: ends starts and supervision
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

// New returns a backend in state Dormant (Ready for a fixed address).
func New(cfg Config) (*Backend, error) {
	if cfg.Addr == "" && cfg.Check == nil {
		return nil, fmt.Errorf("backend %q: no address to forward to", cfg.Name)
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 10 * time.Second
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = 5 * time.Second
	}
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = 1024
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = 250 * time.Millisecond
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = 30 * time.Second
	}
	if cfg.ReadyInterval <= 0 {
		cfg.ReadyInterval = 10 * time.Millisecond
	}
	if cfg.Restart == "" {
		cfg.Restart = RestartOnDemand
	}
	if cfg.LogBytes <= 0 {
		cfg.LogBytes = 256 << 10
	}
	if cfg.Check == nil {
		addr := cfg.Addr
		cfg.Check = func(ctx context.Context) error { return dialCheck(ctx, addr) }
	}
	log := cfg.Log
	if log == nil {
		log = logging.Discard()
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &Backend{
		cfg:     cfg,
		log:     log.With(logging.KeyBackend, cfg.Name),
		logs:    proc.NewLogRing(cfg.LogBytes),
		changed: make(chan struct{}),
		killCh:  make(chan struct{}, 1),
		closed:  make(chan struct{}),
		since:   time.Now(),
		ctx:     ctx,
		cancel:  cancel,
	}
	b.passive.MaxFails = cfg.MaxFails
	b.passive.Window = cfg.FailWindow
	b.passive.Cooldown = cfg.FailCooldown
	if cfg.Launch == nil {
		b.state.Store(int32(Ready))
	}
	return b, nil
}

func dialCheck(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// Name is the backend's name from the config.
func (b *Backend) Name() string { return b.cfg.Name }

// Addr is the address requests are forwarded to.
func (b *Backend) Addr() string { return b.cfg.Addr }

// Config returns the configuration the backend was built with.
func (b *Backend) Config() Config { return b.cfg }

// State returns the current state.
func (b *Backend) State() State { return State(b.state.Load()) }

// Active returns the number of requests in flight (balance.Candidate).
func (b *Backend) Active() int64 { return b.active.Load() }

// Weight returns the balancing weight (balance.Candidate).
func (b *Backend) Weight() int { return max(b.cfg.Weight, 1) }

// Available reports whether a request sent here now may be served
// (balance.Candidate): not stopped, not in backoff, passively healthy.
//
// A ready, healthy backend answers with two atomic loads: the balancer
// asks on every request, so the clock is read only when a backoff or a
// passive-health cooldown is in force.
func (b *Backend) Available() bool {
	switch b.State() {
	case Stopped:
		return false
	case Failed:
		b.mu.Lock()
		wait := time.Now().Before(b.retryAt)
		b.mu.Unlock()
		if wait {
			return false
		}
	}
	return b.passive.Up()
}

// Generation counts the processes that became ready. A connection pool
// that sees it change holds keep-alive connections to a process that is
// gone and should drop its idle ones.
func (b *Backend) Generation() uint64 { return b.gen.Load() }

// Logs returns the captured output, oldest line first.
func (b *Backend) Logs() []string { return b.logs.Lines(0) }

// LogWriter is where the process's stdout and stderr go.
func (b *Backend) LogWriter() io.Writer { return b.logs }

// Fail records a failed request for passive health.
func (b *Backend) Fail() {
	if b.passive.Fail(time.Now()) {
		b.log.Warn("backend taken out of rotation after repeated failures")
	}
}

// WorkerFailed records that a per-request worker (a stdio route's) could
// not be started: such a backend has no process of its own, so without
// this its status stayed "ready" and healthy while every request failed.
// It counts as a failure (Stats.Failures, LastError) and for passive
// health; WorkerStarted clears the error.
func (b *Backend) WorkerFailed(err error) {
	b.mu.Lock()
	b.failures++
	b.lastErr = err
	b.mu.Unlock()
	b.Fail()
}

// WorkerStarted records a per-request worker that started.
func (b *Backend) WorkerStarted() {
	b.mu.Lock()
	b.lastErr = nil
	b.mu.Unlock()
	b.Succeed()
}

// Succeed records a successful request for passive health.
func (b *Backend) Succeed() { b.passive.Succeed() }

// Acquire reserves the backend for one request or connection, starting
// the process if it is dormant and waiting (bounded by ctx, the queue
// limit and StartTimeout) until it is ready. On success the caller must
// call Release exactly once.
func (b *Backend) Acquire(ctx context.Context) error {
	if b.TryAcquire() {
		return nil
	}
	return b.acquireSlow(ctx)
}

// TryAcquire is Acquire's fast path alone, for callers that must not
// wait (an event loop): it reserves a ready backend, or reports false and
// reserves nothing. Two atomics: the state is checked after the increment
// so that an idle stop (which sets Draining, then checks Active) and this
// request never both proceed.
func (b *Backend) TryAcquire() bool {
	b.active.Add(1)
	if State(b.state.Load()) == Ready {
		b.requests.Add(1)
		return true
	}
	b.active.Add(-1)
	return false
}

// Release ends a reservation made by Acquire.
func (b *Backend) Release() {
	if b.cfg.IdleTimeout > 0 {
		// Only scale-to-zero needs the time of last use; time.Now is not
		// free on every clock source, so the hot path skips it otherwise.
		b.lastUsed.Store(time.Now().UnixNano())
	}
	b.active.Add(-1)
}

func (b *Backend) acquireSlow(ctx context.Context) error {
	for {
		b.mu.Lock()
		st := State(b.state.Load())
		if b.closing && st != Ready {
			// Closed (by a reload that replaced it, or a shutdown): it
			// will not be ready again. Its drain (Draining until its
			// process has exited, up to the process's own stop grace)
			// ends in Stopped, so waiting for it only delays ErrStopped,
			// and delays whoever would go to the backend's successor.
			b.mu.Unlock()
			return ErrStopped
		}
		switch st {
		case Ready:
			b.active.Add(1)
			b.requests.Add(1)
			b.mu.Unlock()
			return nil
		case Stopped:
			b.mu.Unlock()
			return ErrStopped
		case Failed:
			if wait := time.Until(b.retryAt); wait > 0 {
				err := b.lastErr
				b.mu.Unlock()
				return fmt.Errorf("%w (next attempt in %v): %w", ErrBackoff, wait.Round(time.Millisecond), err)
			}
			b.beginStartLocked()
		case Dormant:
			b.beginStartLocked()
		}
		st = State(b.state.Load())
		if st == Starting {
			if b.waiters >= b.cfg.MaxQueue {
				b.mu.Unlock()
				return ErrQueueFull
			}
			b.waiters++
			att := b.att
			b.mu.Unlock()
			select {
			case <-att.done:
			case <-ctx.Done():
			}
			b.mu.Lock()
			b.waiters--
			b.mu.Unlock()
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("backend %s: waiting for start: %w", b.cfg.Name, err)
			}
			if att.err != nil {
				return att.err
			}
			continue // ready now (or already draining again): loop re-checks
		}
		// Draining: wait for the stop to finish, then start again.
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("backend %s: waiting for drain: %w", b.cfg.Name, ctx.Err())
		}
	}
}

// setStateLocked changes state and wakes everyone waiting for a change.
func (b *Backend) setStateLocked(s State) {
	b.state.Store(int32(s))
	b.since = time.Now()
	close(b.changed)
	b.changed = make(chan struct{})
}

func (b *Backend) beginStartLocked() {
	if b.closing {
		return
	}
	b.att = &attempt{done: make(chan struct{})}
	b.starts++
	b.setStateLocked(Starting)
	b.wg.Add(1)
	go b.supervise(b.att)
}

func (b *Backend) event(e string) {
	if b.cfg.OnEvent != nil {
		b.cfg.OnEvent(e)
	}
}

// finishStart records the outcome of a start and wakes its waiters.
func (b *Backend) finishStart(att *attempt, p Process, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	att.err = err
	b.att = nil
	switch {
	case err == nil:
		b.proc = p
		b.lastErr = nil
		b.gen.Add(1)
		b.setStateLocked(Ready)
	case b.closing:
		att.err = ErrStopped
		b.setStateLocked(Stopped)
	default:
		b.failures++
		b.failRun++
		b.lastErr = err
		b.failLocked(true)
	}
	close(att.done)
}

// backoffLocked is the delay before the next start after failRun failures.
func (b *Backend) backoffLocked() time.Duration {
	delay := b.cfg.BackoffMin << min(max(b.failRun-1, 0), 20)
	if delay > b.cfg.BackoffMax || delay <= 0 {
		delay = b.cfg.BackoffMax
	}
	return delay
}

// failLocked puts the backend in Failed with its backoff (forever when the
// policy is never or MaxRetries is reached) and, for the on_failure and
// always policies, schedules the restart.
func (b *Backend) failLocked(failure bool) {
	giveUp := b.cfg.Restart == RestartNever || (b.cfg.MaxRetries > 0 && b.failRun >= b.cfg.MaxRetries)
	if giveUp {
		b.retryAt = forever
		if b.lastErr != nil {
			b.lastErr = fmt.Errorf("%w (giving up after %d failures; kill or reload to retry)", b.lastErr, b.failRun)
		}
		b.setStateLocked(Failed)
		return
	}
	delay := b.backoffLocked()
	if !failure {
		delay = 0
	}
	b.retryAt = time.Now().Add(delay)
	b.setStateLocked(Failed)
	if b.cfg.Restart == RestartAlways || (b.cfg.Restart == RestartOnFailure && failure) {
		b.scheduleRestartLocked(delay)
	}
}

// scheduleRestartLocked starts the backend again after delay (restart
// policies on_failure and always), unless it is closed or already started.
func (b *Backend) scheduleRestartLocked(delay time.Duration) {
	if b.closing || b.cfg.Launch == nil {
		return
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-b.ctx.Done():
			return
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		if st := State(b.state.Load()); (st == Failed || st == Dormant) && !b.closing && !time.Now().Before(b.retryAt) {
			b.beginStartLocked()
		}
	}()
}

// supervise owns one process lifetime: launch, readiness, then exit,
// idle stop, kill or Close.
func (b *Backend) supervise(att *attempt) {
	defer b.wg.Done()
	p, err := b.start()
	if err != nil {
		b.log.Warn("backend start failed", logging.KeyErr, err)
		b.event("start_failed")
		b.finishStart(att, nil, err)
		return
	}
	b.log.Info("backend ready", logging.KeyPID, p.PID())
	b.event("ready")
	readyAt := time.Now()
	b.lastUsed.Store(readyAt.UnixNano())
	// A Kill sent while the previous process was stopping (it was still
	// b.proc then) was meant for that one, not for this.
	select {
	case <-b.killCh:
	default:
	}
	b.finishStart(att, p, nil)

	var idle <-chan time.Time
	var timer *time.Timer
	if b.cfg.IdleTimeout > 0 {
		timer = time.NewTimer(b.cfg.IdleTimeout)
		defer timer.Stop()
		idle = timer.C
	}
	for {
		select {
		case <-p.Done():
			b.mu.Lock()
			b.proc = nil
			code := -1
			if ec, ok := p.(interface{ ExitCode() int }); ok {
				code = ec.ExitCode()
			}
			quick := time.Since(readyAt) < time.Second
			switch {
			case b.closing:
				b.setStateLocked(Stopped)
			case quick || b.cfg.Restart == RestartNever:
				// A crash right after start counts as a failed start: back off.
				b.failures++
				b.failRun++
				b.lastErr = fmt.Errorf("backend %s: process %d exited (code %d) %v after becoming ready", b.cfg.Name, p.PID(), code, time.Since(readyAt).Round(time.Millisecond))
				b.failLocked(true)
			case b.cfg.Restart == RestartAlways || (b.cfg.Restart == RestartOnFailure && code != 0):
				b.failRun = 0
				b.lastErr = fmt.Errorf("backend %s: process %d exited (code %d); restarting", b.cfg.Name, p.PID(), code)
				b.failLocked(code != 0)
			default:
				b.failRun = 0
				b.lastErr = fmt.Errorf("backend %s: process %d exited (code %d)", b.cfg.Name, p.PID(), code)
				b.setStateLocked(Dormant)
			}
			b.mu.Unlock()
			b.log.Warn("backend process exited", logging.KeyPID, p.PID())
			b.event("exit")
			return
		case <-idle:
			since := time.Since(time.Unix(0, b.lastUsed.Load()))
			if since >= b.cfg.IdleTimeout && (b.active.Load() > 0 || b.cfg.Busy != nil && b.cfg.Busy()) {
				// In use (a request in flight, or the program's own
				// connections): a whole idle period from now. Without
				// the active check a long request (SSE, a download)
				// made this a 1 ms poll, each turn flipping the state to
				// draining and back, which requests arriving then saw.
				b.lastUsed.Store(time.Now().UnixNano())
				since = 0
			}
			if since < b.cfg.IdleTimeout || !b.beginDrain() {
				timer.Reset(max(b.cfg.IdleTimeout-since, time.Millisecond))
				continue
			}
			b.log.Info("backend idle: stopping", logging.KeyPID, p.PID())
			b.stopProcess(p)
			b.mu.Lock()
			b.proc = nil
			b.failRun = 0
			if b.closing {
				b.setStateLocked(Stopped)
			} else {
				b.setStateLocked(Dormant)
			}
			b.mu.Unlock()
			b.event("idle_stop")
			return
		case <-b.killCh:
			b.log.Info("backend killed on request", logging.KeyPID, p.PID())
			b.stopProcess(p)
			b.mu.Lock()
			b.proc = nil
			if b.closing {
				b.setStateLocked(Stopped)
			} else {
				b.setStateLocked(Dormant)
				if b.cfg.Restart == RestartAlways {
					b.scheduleRestartLocked(0) // kill = restart for always-on backends
				}
			}
			b.mu.Unlock()
			b.event("kill")
			return
		case <-b.ctx.Done():
			b.stopProcess(p)
			b.mu.Lock()
			b.proc = nil
			b.setStateLocked(Stopped)
			b.mu.Unlock()
			return
		}
	}
}

// beginDrain moves a Ready backend with nothing in flight to Draining.
func (b *Backend) beginDrain() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if State(b.state.Load()) != Ready || b.closing {
		return false
	}
	b.setStateLocked(Draining)
	if b.active.Load() != 0 {
		// A request slipped in between: it wins.
		b.setStateLocked(Ready)
		return false
	}
	return true
}

func (b *Backend) stopProcess(p Process) {
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.StopTimeout)
	defer cancel()
	if err := p.Stop(ctx); err != nil {
		b.log.Warn("backend stop", logging.KeyPID, p.PID(), logging.KeyErr, err)
		// Stop gave up waiting after SIGKILL; the process is still ours to
		// wait for, so that Close never returns with it alive.
		select {
		case <-p.Done():
		case <-time.After(5 * time.Second):
			b.log.Error("backend process did not exit after SIGKILL", logging.KeyPID, p.PID())
		}
	}
}

// start launches the process and polls readiness until StartTimeout.
func (b *Backend) start() (Process, error) {
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.StartTimeout)
	defer cancel()
	b.event("start")
	p, err := b.cfg.Launch(ctx, b.logs)
	if err != nil {
		return nil, fmt.Errorf("backend %s: %w: %w", b.cfg.Name, ErrLaunch, err)
	}
	b.log.Info("backend starting", logging.KeyPID, p.PID())
	b.mu.Lock()
	b.lastPID = p.PID()
	b.mu.Unlock()
	// Poll quickly at first so the first response follows the backend's
	// own listen by about a millisecond, then back off.
	begin := time.Now()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-p.Done():
			return nil, fmt.Errorf("backend %s: %w (pid %d); see its logs", b.cfg.Name, ErrExited, p.PID())
		case <-ctx.Done():
			b.stopProcess(p)
			if b.ctx.Err() != nil {
				return nil, ErrStopped
			}
			return nil, fmt.Errorf("backend %s: %w (%v, listening on %s expected)", b.cfg.Name, ErrStartTimeout, b.cfg.StartTimeout, b.cfg.Addr)
		case <-t.C:
		}
		cctx, ccancel := context.WithTimeout(ctx, 250*time.Millisecond)
		err := b.cfg.Check(cctx)
		ccancel()
		if err == nil {
			return p, nil
		}
		next := b.cfg.ReadyInterval
		switch el := time.Since(begin); {
		case el < 200*time.Millisecond:
			next = min(next, 500*time.Microsecond)
		case el < 2*time.Second:
			next = min(next, 2*time.Millisecond)
		}
		t.Reset(next)
	}
}

// Kill stops the backend's process now (SIGTERM, then SIGKILL after the
// stop timeout). The backend becomes dormant; the next request starts it.
func (b *Backend) Kill() error {
	b.mu.Lock()
	p := b.proc
	b.mu.Unlock()
	if p == nil {
		b.mu.Lock()
		defer b.mu.Unlock()
		if State(b.state.Load()) == Failed && !b.closing {
			// Kill of a failed backend clears its backoff: the next request
			// (or restart policy) tries again.
			b.failRun = 0
			b.retryAt = time.Time{}
			b.setStateLocked(Dormant)
			if b.cfg.Restart == RestartAlways || b.cfg.Restart == RestartOnFailure {
				b.scheduleRestartLocked(0)
			}
			return nil
		}
		return fmt.Errorf("backend %s: no process running", b.cfg.Name)
	}
	select {
	case b.killCh <- struct{}{}:
	default:
	}
	return nil
}

// Start begins a start in the background if the backend is dormant (used
// to warm a backend up); it does not wait.
func (b *Backend) Start() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cfg.Launch != nil && State(b.state.Load()) == Dormant {
		b.beginStartLocked()
	}
}

// Close drains the backend (no new requests; waits for those in flight
// until ctx expires) and stops its process. It returns once the process is
// gone. The backend is Stopped afterwards.
func (b *Backend) Close(ctx context.Context) error {
	b.mu.Lock()
	if b.closing {
		b.mu.Unlock()
		b.wg.Wait()
		return nil
	}
	b.closing = true
	if st := State(b.state.Load()); st == Ready && b.proc != nil {
		b.setStateLocked(Draining)
	} else if st != Starting {
		b.setStateLocked(Stopped)
	}
	b.mu.Unlock()

	var err error
	t := time.NewTicker(5 * time.Millisecond)
	for b.active.Load() > 0 {
		select {
		case <-ctx.Done():
			err = fmt.Errorf("backend %s: drain: %d requests still in flight: %w", b.cfg.Name, b.active.Load(), ctx.Err())
		case <-t.C:
			continue
		}
		break
	}
	t.Stop()
	b.cancel()
	b.wg.Wait()
	b.mu.Lock()
	if State(b.state.Load()) != Stopped {
		b.setStateLocked(Stopped)
	}
	b.mu.Unlock()
	if b.cfg.OnClose != nil {
		b.cfg.OnClose()
	}
	b.closeOnce.Do(func() { close(b.closed) })
	return err
}

// Closed is closed once Close has stopped the process (and run OnClose).
func (b *Backend) Closed() <-chan struct{} { return b.closed }

// Stats returns a snapshot.
func (b *Backend) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := Stats{
		Name:     b.cfg.Name,
		Addr:     b.cfg.Addr,
		State:    State(b.state.Load()),
		Active:   b.active.Load(),
		Requests: b.requests.Load(),
		Starts:   b.starts,
		Failures: b.failures,
		Waiting:  b.waiters,
		Since:    b.since,
		LastPID:  b.lastPID,
		Healthy:  b.passive.Healthy(time.Now()),
	}
	if b.proc != nil {
		s.PID = b.proc.PID()
	}
	if b.lastErr != nil {
		s.LastError = b.lastErr.Error()
	}
	return s
}

// WaitState blocks until the backend is in state s or ctx ends.
func (b *Backend) WaitState(ctx context.Context, s State) error {
	for {
		b.mu.Lock()
		if State(b.state.Load()) == s {
			b.mu.Unlock()
			return nil
		}
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("backend %s: waiting for %s: %w", b.cfg.Name, s, ctx.Err())
		}
	}
}
