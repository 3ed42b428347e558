package gateway

import (
	"cmp"
	"slices"
	"sync"
)

// liveSet holds keys (a port, a process group) for as long as some
// process that holds them runs: add counts a process in under its key
// until its done channel closes. The port guard asks whether a port has
// one of ours (portguard.go); the engine reports the process groups of
// its backends through onChange (Options.OnProcessGroups): after the
// gateway is killed, Pdeathsig ends each backend's leader but not the
// children a wrapper script started, which keep the group and, often, the
// backend's port (the daemon clears them at the next start).
type liveSet[K cmp.Ordered] struct {
	mu       sync.Mutex
	n        map[K]int // key -> processes holding it, not yet gone
	onChange func([]K) // if set: every change, the keys held, sorted, in order (called under mu)
}

// add holds k until done closes.
func (s *liveSet[K]) add(k K, done <-chan struct{}) {
	s.mu.Lock()
	if s.n == nil {
		s.n = map[K]int{}
	}
	s.n[k]++
	s.changedLocked()
	s.mu.Unlock()
	go func() {
		<-done
		s.mu.Lock()
		if s.n[k]--; s.n[k] <= 0 {
			delete(s.n, k)
		}
		s.changedLocked()
		s.mu.Unlock()
	}()
}

// has reports whether some live process holds k.
func (s *liveSet[K]) has(k K) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[k] > 0
}

func (s *liveSet[K]) changedLocked() {
	if s.onChange == nil {
		return
	}
	keys := make([]K, 0, len(s.n))
	for k := range s.n {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	s.onChange(keys)
}
