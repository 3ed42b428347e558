package proc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/warren-mesh/warren/internal/logging"
)

// BecomeSubreaper makes this process a child subreaper
// (PR_SET_CHILD_SUBREAPER): orphans of its descendants are re-parented to it
// instead of to PID 1. Run a Reaper as well, or they stay zombies.
func BecomeSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("proc: become subreaper: %w", err)
	}
	return nil
}

// Reaper reaps zombie children that proc did not start: orphans inherited
// as a subreaper. It scans on every SIGCHLD and every Interval.
//
// In a process running a Reaper, start every child through Start (see the
// package documentation): the Reaper cannot tell an os/exec child from an
// orphan.
type Reaper struct {
	Log      *slog.Logger
	Interval time.Duration // slow periodic scan; 0 = 5s
	// MinAge is how long an unregistered zombie must have been seen before
	// it is reaped (0 = 1s; negative = at once). A child that other code
	// started with os/exec is reaped by its own Wait long before that, so
	// the delay makes the Reaper safe next to such code; orphans wait a
	// little longer.
	MinAge time.Duration

	mu     sync.Mutex
	cancel context.CancelFunc
	wg     sync.WaitGroup
	reaped int
	seen   map[int]time.Time // zombies first seen at; guarded by registry.forkLock (write)
}

func (r *Reaper) minAge() time.Duration {
	switch {
	case r.MinAge < 0:
		return 0
	case r.MinAge == 0:
		return time.Second
	}
	return r.MinAge
}

// Start begins reaping in a goroutine owned by r, until Close or until ctx
// ends.
func (r *Reaper) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cancel != nil {
		return errors.New("proc: reaper: already started")
	}
	log := r.Log
	if log == nil {
		log = logging.Discard()
	}
	iv := r.Interval
	if iv <= 0 {
		iv = 5 * time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGCHLD)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer signal.Stop(sig)
		t := time.NewTicker(iv)
		defer t.Stop()
		var again <-chan time.Time
		for {
			if _, pending := r.reap(log); pending > 0 {
				again = time.After(r.minAge() / 2)
			} else {
				again = nil
			}
			select {
			case <-ctx.Done():
				return
			case <-sig:
			case <-t.C:
			case <-again:
			}
		}
	}()
	return nil
}

// Close stops the reaper and waits for its goroutine.
func (r *Reaper) Close(ctx context.Context) error {
	r.mu.Lock()
	cancel := r.cancel
	r.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("proc: reaper close: %w", ctx.Err())
	}
}

// Reaped returns how many orphans this reaper has reaped.
func (r *Reaper) Reaped() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reaped
}

// ReapOnce reaps the zombie children not started by Start and returns how
// many it reaped. Start calls it on its own; it is exported for tests and
// for callers that drive reaping themselves.
func (r *Reaper) ReapOnce(log *slog.Logger) int {
	n, _ := r.reap(log)
	return n
}

// reap reaps the unregistered zombie children old enough, and returns how
// many it reaped and how many it saw but left for later.
func (r *Reaper) reap(log *slog.Logger) (n, pending int) {
	if log == nil {
		log = logging.Discard()
	}
	registry.forkLock.Lock()
	defer registry.forkLock.Unlock()
	kids, err := childPIDs()
	if err != nil {
		log.Warn("reaper: list children", logging.KeyErr, err)
		return 0, 0
	}
	now := time.Now()
	zombies := map[int]bool{}
	for _, pid := range kids {
		if registered(pid) {
			continue
		}
		st, err := ReadStat(pid)
		if err != nil || st.State != 'Z' {
			continue
		}
		zombies[pid] = true
		if r.seen == nil {
			r.seen = map[int]time.Time{}
		}
		first, ok := r.seen[pid]
		if !ok {
			r.seen[pid], first = now, now
		}
		if now.Sub(first) < r.minAge() {
			pending++
			continue
		}
		delete(r.seen, pid)
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		if err != nil || got != pid {
			continue
		}
		n++
		log.Debug("reaped orphan", logging.KeyPID, pid, "status", int(ws))
	}
	for pid := range r.seen {
		if !zombies[pid] {
			delete(r.seen, pid)
		}
	}
	if n > 0 {
		r.mu.Lock()
		r.reaped += n
		r.mu.Unlock()
	}
	return n, pending
}
