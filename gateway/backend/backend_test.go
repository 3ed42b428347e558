package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warren-mesh/warren/internal/testutil"
)

// fakeProc stands in for a process in these state-machine tests: a real
// loopback listener served by a goroutine. Real child processes are tested
// in package gateway, where package proc launches them.
type fakeProc struct {
	pid     int
	done    chan struct{}
	once    sync.Once
	mu      sync.Mutex
	ln      net.Listener
	stopped atomic.Bool
	wg      sync.WaitGroup
}

func (p *fakeProc) PID() int              { return p.pid }
func (p *fakeProc) Done() <-chan struct{} { return p.done }
func (p *fakeProc) exit() {
	p.once.Do(func() {
		// done closes under mu: the process's goroutine checks it there
		// before it stores a new listener.
		p.mu.Lock()
		if p.ln != nil {
			p.ln.Close()
		}
		close(p.done)
		p.mu.Unlock()
	})
}
func (p *fakeProc) Stop(ctx context.Context) error {
	p.stopped.Store(true)
	p.exit()
	p.wg.Wait()
	return nil
}

type fakeLauncher struct {
	addr        string
	listenAfter time.Duration // <0: never listens
	exitAfter   time.Duration // <0: never exits by itself
	launches    atomic.Int32
	mu          sync.Mutex
	procs       []*fakeProc
}

func (f *fakeLauncher) launch(ctx context.Context, logs io.Writer) (Process, error) {
	n := f.launches.Add(1)
	fmt.Fprintf(logs, "launch %d\n", n)
	p := &fakeProc{pid: 1000 + int(n), done: make(chan struct{})}
	f.mu.Lock()
	f.procs = append(f.procs, p)
	f.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if f.exitAfter >= 0 {
			select {
			case <-time.After(f.exitAfter):
				p.exit()
				return
			case <-p.done:
				return
			}
		}
		if f.listenAfter < 0 {
			<-p.done
			return
		}
		select {
		case <-time.After(f.listenAfter):
		case <-p.done:
			return
		}
		ln, err := net.Listen("tcp", f.addr)
		if err != nil {
			p.exit()
			return
		}
		p.mu.Lock()
		select {
		case <-p.done:
			// Stopped between the wait and here: exit found no listener
			// to close, so this one would be accepted on for ever (a CI
			// run hung 20 minutes in TestExitDuringStartBacksOff's Close).
			p.mu.Unlock()
			ln.Close()
			return
		default:
		}
		p.ln = ln
		p.mu.Unlock()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return p, nil
}

func (f *fakeLauncher) allStopped() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.procs {
		select {
		case <-p.done:
		default:
			return fmt.Errorf("process %d still running", p.pid)
		}
	}
	return nil
}

func newBackend(t *testing.T, f *fakeLauncher, mod func(*Config)) *Backend {
	t.Helper()
	f.addr = fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	cfg := Config{Name: "b", Addr: f.addr, Launch: f.launch, StartTimeout: 5 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Bounded: a test that failed holding a request would otherwise
		// keep Close draining for ever (the package hung to its timeout).
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := b.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
		if err := f.allStopped(); err != nil {
			t.Error(err)
		}
	})
	return b
}

func TestConcurrentFirstRequestsStartOnce(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	f := &fakeLauncher{listenAfter: 50 * time.Millisecond, exitAfter: -1}
	b := newBackend(t, f, nil)
	if b.State() != Dormant {
		t.Fatalf("new backend is %s, want dormant", b.State())
	}
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.Acquire(context.Background()); err != nil {
				errs <- err
				return
			}
			b.Release()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := f.launches.Load(); n != 1 {
		t.Fatalf("%d launches, want 1", n)
	}
	st := b.Stats()
	if st.State != Ready || st.Requests != 50 || st.Active != 0 || st.PID != 1001 {
		t.Fatalf("stats %+v", st)
	}
	if got := b.Logs(); len(got) != 1 || got[0] != "launch 1" {
		t.Fatalf("logs %q", got)
	}
}

func TestNeverListensTimesOut(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	f := &fakeLauncher{listenAfter: -1, exitAfter: -1}
	b := newBackend(t, f, func(c *Config) { c.StartTimeout = 200 * time.Millisecond })
	err := b.Acquire(context.Background())
	if !errors.Is(err, ErrStartTimeout) {
		t.Fatalf("err = %v, want ErrStartTimeout", err)
	}
	if err := f.allStopped(); err != nil {
		t.Fatalf("after timeout: %v", err)
	}
	if b.State() != Failed {
		t.Fatalf("state %s, want failed", b.State())
	}
	if !f.procs[0].stopped.Load() {
		t.Fatal("process was not stopped")
	}
}

func TestExitDuringStartBacksOff(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	f := &fakeLauncher{listenAfter: -1, exitAfter: 10 * time.Millisecond}
	b := newBackend(t, f, func(c *Config) { c.BackoffMin = 300 * time.Millisecond })
	if err := b.Acquire(context.Background()); !errors.Is(err, ErrExited) {
		t.Fatalf("first: %v, want ErrExited", err)
	}
	// Within the backoff: refused at once, no new spawn.
	for range 20 {
		if err := b.Acquire(context.Background()); !errors.Is(err, ErrBackoff) || !errors.Is(err, ErrExited) {
			t.Fatalf("during backoff: %v, want ErrBackoff wrapping ErrExited", err)
		}
	}
	if n := f.launches.Load(); n != 1 {
		t.Fatalf("%d launches during backoff, want 1", n)
	}
	if b.Available() {
		t.Fatal("backend in backoff reported available")
	}
	// After the backoff the next request tries again; now it listens.
	f.exitAfter = -1
	f.listenAfter = 0
	testutil.Eventually(t, 5*time.Second, func() error {
		if !b.Available() {
			return errors.New("still in backoff")
		}
		return nil
	})
	if err := b.Acquire(context.Background()); err != nil {
		t.Fatalf("after backoff: %v", err)
	}
	b.Release()
	if n := f.launches.Load(); n != 2 {
		t.Fatalf("%d launches, want 2", n)
	}
}

// A backend with a request in flight longer than idle_timeout stays ready
// without a change of state: the idle check flipped it to draining and
// back every millisecond (requests arriving then took the slow path, and
// TestIdleTimeoutScalesToZero once read "draining" for a busy backend).
func TestBusyBackendStateHoldsStill(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	f := &fakeLauncher{listenAfter: 0, exitAfter: -1}
	b := newBackend(t, f, func(c *Config) { c.IdleTimeout = 20 * time.Millisecond })
	if err := b.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	changed := b.changed
	b.mu.Unlock()
	select {
	case <-changed:
		st := b.State()
		b.Release()
		t.Fatalf("state changed (now %s) while a request was in flight", st)
	case <-time.After(300 * time.Millisecond): // 15 idle periods
	}
	b.Release()
	if err := b.WaitState(ctxT(t, 5*time.Second), Dormant); err != nil {
		t.Fatal(err)
	}
}

func TestIdleTimeoutScalesToZero(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	f := &fakeLauncher{listenAfter: 0, exitAfter: -1}
	b := newBackend(t, f, func(c *Config) { c.IdleTimeout = 100 * time.Millisecond })
	if err := b.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Busy backends are never stopped, however long the request.
	time.Sleep(250 * time.Millisecond) // holding a request open longer than idle_timeout is the point
	if b.State() != Ready {
		t.Fatalf("busy backend is %s", b.State())
	}
	b.Release()
	if err := b.WaitState(ctxT(t, 5*time.Second), Dormant); err != nil {
		t.Fatal(err)
	}
	if err := f.allStopped(); err != nil {
		t.Fatal(err)
	}
	if err := b.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.Release()
	if n := f.launches.Load(); n != 2 {
		t.Fatalf("%d launches, want 2", n)
	}
}

func TestQueueBound(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	f := &fakeLauncher{listenAfter: -1, exitAfter: -1}
	b := newBackend(t, f, func(c *Config) { c.MaxQueue = 2; c.StartTimeout = 2 * time.Second })
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); _ = b.Acquire(ctx) }()
	}
	testutil.Eventually(t, 5*time.Second, func() error {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.waiters != 2 {
			return fmt.Errorf("%d waiters", b.waiters)
		}
		return nil
	})
	if err := b.Acquire(context.Background()); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("third waiter: %v, want ErrQueueFull", err)
	}
	cancel()
	wg.Wait()
}

func TestCloseDuringStart(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	f := &fakeLauncher{listenAfter: -1, exitAfter: -1}
	b := newBackend(t, f, nil)
	errc := make(chan error, 1)
	go func() { errc <- b.Acquire(context.Background()) }()
	if err := b.WaitState(ctxT(t, 5*time.Second), Starting); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrStopped) {
		t.Fatalf("waiter got %v, want ErrStopped", err)
	}
	if b.State() != Stopped {
		t.Fatalf("state %s", b.State())
	}
	if err := b.Acquire(context.Background()); !errors.Is(err, ErrStopped) {
		t.Fatalf("after close: %v", err)
	}
}

// closingInFlight returns a ready backend with one request in flight and
// Close running (so Draining); done has Close's result.
func closingInFlight(t *testing.T) (*Backend, *fakeLauncher, <-chan error) {
	f := &fakeLauncher{listenAfter: 0, exitAfter: -1}
	b := newBackend(t, f, nil)
	if err := b.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- b.Close(context.Background()) }()
	if err := b.WaitState(ctxT(t, 5*time.Second), Draining); err != nil {
		t.Fatal(err)
	}
	return b, f, done
}

func TestCloseDrainsInFlight(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	b, f, done := closingInFlight(t)
	if f.procs[0].stopped.Load() {
		t.Fatal("process stopped while a request was in flight")
	}
	b.Release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !f.procs[0].stopped.Load() {
		t.Fatal("process not stopped by Close")
	}
}

// TestAcquireWhileClosing: once Close has begun (here draining a request
// in flight), Acquire fails with ErrStopped at once instead of waiting out
// the drain and the process's stop only to fail the same way. A hand-off
// route's watcher that looked at a backend just before a reload swapped it
// out waited so for the retired program's whole drain, and started no
// program for the connections meanwhile.
func TestAcquireWhileClosing(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	b, _, done := closingInFlight(t)
	// The first request is still in flight: the drain cannot end before
	// the ctx below does, so only an immediate answer is ErrStopped.
	err := b.Acquire(ctxT(t, 5*time.Second))
	b.Release()
	if cerr := <-done; cerr != nil {
		t.Fatal(cerr)
	}
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("acquire while closing: %v, want %v", err, ErrStopped)
	}
}

func TestCrashThenRestart(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	f := &fakeLauncher{listenAfter: 0, exitAfter: -1}
	b := newBackend(t, f, func(c *Config) { c.BackoffMin = 20 * time.Millisecond })
	if err := b.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.Release()
	f.procs[0].exit() // crash
	testutil.Eventually(t, 5*time.Second, func() error {
		if s := b.State(); s == Ready {
			return errors.New("still ready")
		}
		return nil
	})
	testutil.Eventually(t, 5*time.Second, func() error {
		if err := b.Acquire(context.Background()); err != nil {
			return err
		}
		b.Release()
		return nil
	})
	if n := f.launches.Load(); n != 2 {
		t.Fatalf("%d launches, want 2", n)
	}
}

func TestKill(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	f := &fakeLauncher{listenAfter: 0, exitAfter: -1}
	b := newBackend(t, f, nil)
	if err := b.Kill(); err == nil {
		t.Fatal("kill of a dormant backend succeeded")
	}
	if err := b.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.Release()
	if err := b.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitState(ctxT(t, 5*time.Second), Dormant); err != nil {
		t.Fatal(err)
	}
	if !f.procs[0].stopped.Load() {
		t.Fatal("not stopped")
	}
}

func TestFixedAddress(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	b, err := New(Config{Name: "fixed", Addr: "127.0.0.1:1", MaxFails: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	if b.State() != Ready {
		t.Fatalf("fixed backend is %s", b.State())
	}
	if err := b.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.Release()
	b.Fail()
	b.Fail()
	if b.Available() {
		t.Fatal("available after MaxFails failures")
	}
	if err := b.Kill(); err == nil {
		t.Fatal("kill of a fixed address succeeded")
	}
	if _, err := New(Config{Name: "x"}); err == nil {
		t.Fatal("New without address succeeded")
	}
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func BenchmarkAcquireRelease(b *testing.B) {
	be, _ := New(Config{Name: "fixed", Addr: "127.0.0.1:1"})
	defer be.Close(context.Background())
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := be.Acquire(ctx); err != nil {
				b.Fatal(err)
			}
			be.Release()
		}
	})
}

func TestRestartPolicies(t *testing.T) {
	t.Run("always restarts without a request", func(t *testing.T) {
		testutil.VerifyNoLeaks(t)
		f := &fakeLauncher{listenAfter: 0, exitAfter: -1}
		b := newBackend(t, f, func(c *Config) { c.Restart = RestartAlways; c.BackoffMin = 10 * time.Millisecond })
		b.Start()
		if err := b.WaitState(ctxT(t, 5*time.Second), Ready); err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		first := f.procs[0]
		f.mu.Unlock()
		first.exit()
		testutil.Eventually(t, 10*time.Second, func() error {
			if n := f.launches.Load(); n != 2 || b.State() != Ready {
				return fmt.Errorf("%d launches, state %s", n, b.State())
			}
			return nil
		})
	})
	t.Run("never stays failed until kill", func(t *testing.T) {
		testutil.VerifyNoLeaks(t)
		f := &fakeLauncher{listenAfter: -1, exitAfter: 5 * time.Millisecond}
		b := newBackend(t, f, func(c *Config) { c.Restart = RestartNever; c.BackoffMin = time.Millisecond })
		if err := b.Acquire(context.Background()); !errors.Is(err, ErrExited) {
			t.Fatalf("first: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // well past the 1ms backoff: never means never
		if err := b.Acquire(context.Background()); !errors.Is(err, ErrBackoff) {
			t.Fatalf("after backoff time: %v, want still failed", err)
		}
		if err := b.Kill(); err != nil {
			t.Fatalf("kill of a failed backend: %v", err)
		}
		f.exitAfter, f.listenAfter = -1, 0
		if err := b.Acquire(context.Background()); err != nil {
			t.Fatalf("after kill: %v", err)
		}
		b.Release()
	})
	t.Run("max retries", func(t *testing.T) {
		testutil.VerifyNoLeaks(t)
		f := &fakeLauncher{listenAfter: -1, exitAfter: 2 * time.Millisecond}
		b := newBackend(t, f, func(c *Config) {
			c.Restart = RestartOnFailure
			c.MaxRetries = 3
			c.BackoffMin, c.BackoffMax = time.Millisecond, 2*time.Millisecond
		})
		b.Start()
		testutil.Eventually(t, 10*time.Second, func() error {
			if n := f.launches.Load(); n != 3 {
				return fmt.Errorf("%d launches", n)
			}
			return nil
		})
		if err := b.WaitState(ctxT(t, 5*time.Second), Failed); err != nil {
			t.Fatal(err)
		}
		if err := b.Acquire(context.Background()); !errors.Is(err, ErrBackoff) || !strings.Contains(err.Error(), "giving up after 3") {
			t.Fatalf("after max retries: %v", err)
		}
		if n := f.launches.Load(); n != 3 {
			t.Fatalf("%d launches, want 3", n)
		}
	})
}
