package gateway

import (
	"slices"
	"sync"
)

// groupSet tracks the process groups of the backends running now (each
// backend process leads its own group) and reports every change to
// Options.OnProcessGroups, so an embedder can record them: after the
// gateway is killed, Pdeathsig ends each backend's leader but not the
// children a wrapper script started, which keep the group and, often, the
// backend's port (proc.KillOrphanedGroup clears them at the next start).
type groupSet struct {
	mu     sync.Mutex
	live   map[int]int // pgid -> processes (a reload's successor may reuse nothing, but be safe)
	notify func([]int)
}

func (s *groupSet) add(pgid int, done <-chan struct{}) {
	if s.notify == nil {
		return
	}
	s.mu.Lock()
	if s.live == nil {
		s.live = map[int]int{}
	}
	s.live[pgid]++
	s.changedLocked()
	s.mu.Unlock()
	go func() {
		<-done
		s.mu.Lock()
		if s.live[pgid]--; s.live[pgid] <= 0 {
			delete(s.live, pgid)
		}
		s.changedLocked()
		s.mu.Unlock()
	}()
}

// changedLocked reports the set; under mu, so reports arrive in order.
func (s *groupSet) changedLocked() {
	out := make([]int, 0, len(s.live))
	for g := range s.live {
		out = append(out, g)
	}
	slices.Sort(out)
	s.notify(out)
}
