package cli

import (
	"sync"
	"testing"
	"time"
)

// TestIdleTrimmer: the trim never runs sooner than idle after a job start,
// runs once the host has gone idle that long, and once per idle spell.
func TestIdleTrimmer(t *testing.T) {
	const idle = 150 * time.Millisecond
	var mu sync.Mutex
	var starts, calls []time.Time
	tr := newIdleTrimmer(idle, func() {
		mu.Lock()
		calls = append(calls, time.Now())
		mu.Unlock()
	})
	defer tr.stop()
	for range 5 {
		mu.Lock()
		starts = append(starts, time.Now())
		mu.Unlock()
		tr.started()
		time.Sleep(idle / 5)
	}
	last := starts[len(starts)-1]
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(calls)
		mu.Unlock()
		if n > 0 && calls[n-1].After(last) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no trim 10 s after the last start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(3 * idle) // room for a wrong second trim to show
	mu.Lock()
	defer mu.Unlock()
	after := 0
	for _, c := range calls {
		// the latest start before this trim must be idle or more before it
		var prev time.Time
		for _, s := range starts {
			if s.Before(c) {
				prev = s
			}
		}
		if !prev.IsZero() && c.Sub(prev) < idle {
			t.Errorf("trimmed %v after a job start, want >= %v", c.Sub(prev), idle)
		}
		if c.After(last) {
			after++
		}
	}
	if after != 1 {
		t.Errorf("%d trims after the last start, want 1", after)
	}
}
