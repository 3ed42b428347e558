package proc

import (
	"sync"
	"time"
)

// Backoff is an exponential restart delay: Base, 2*Base, 4*Base, ... capped
// at Cap. A process that stayed up for ResetAfter or longer starts again
// from Base.
type Backoff struct {
	Base       time.Duration // first delay; 0 = 100ms
	Cap        time.Duration // largest delay; 0 = 30s
	ResetAfter time.Duration // uptime that forgives past failures; 0 = 10s
}

// DefaultBackoff is a restart backoff suited to supervised services: quick
// first retry, at most 30s between attempts, forgiven after 10s up.
var DefaultBackoff = Backoff{Base: 100 * time.Millisecond, Cap: 30 * time.Second, ResetAfter: 10 * time.Second}

func (b Backoff) norm() Backoff {
	if b.Base <= 0 {
		b.Base = DefaultBackoff.Base
	}
	if b.Cap <= 0 {
		b.Cap = DefaultBackoff.Cap
	}
	if b.Cap < b.Base {
		b.Cap = b.Base
	}
	if b.ResetAfter <= 0 {
		b.ResetAfter = DefaultBackoff.ResetAfter
	}
	return b
}

// Next returns the delay before restart number attempt (0-based).
func (b Backoff) Next(attempt int) time.Duration {
	b = b.norm()
	if attempt < 0 {
		attempt = 0
	}
	d := b.Base
	for i := 0; i < attempt; i++ {
		if d >= b.Cap/2 {
			return b.Cap
		}
		d *= 2
	}
	return min(d, b.Cap)
}

// Tracker counts consecutive failures and turns them into delays. It is
// safe for concurrent use.
type Tracker struct {
	B Backoff

	mu       sync.Mutex
	failures int
}

// Failure records a failure after uptime and returns the delay to wait
// before the next start. An uptime of at least ResetAfter first forgives
// the earlier failures.
func (t *Tracker) Failure(uptime time.Duration) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if uptime >= t.B.norm().ResetAfter {
		t.failures = 0
	}
	d := t.B.Next(t.failures)
	t.failures++
	return d
}

// Success records that the process stayed up for uptime; at least
// ResetAfter resets the failure count.
func (t *Tracker) Success(uptime time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if uptime >= t.B.norm().ResetAfter {
		t.failures = 0
	}
}

// Failures returns the current count of consecutive failures.
func (t *Tracker) Failures() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failures
}

// Reset forgets every failure.
func (t *Tracker) Reset() {
	t.mu.Lock()
	t.failures = 0
	t.mu.Unlock()
}
