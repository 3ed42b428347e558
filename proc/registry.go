package proc

import "sync"

// registry records the pids started by Start, so that a Reaper never steals
// their exit status. It is the one process-global in the package: pids are
// process-global too. Lock order: forkLock before mu.
var registry = struct {
	// forkLock is held for reading by Start from before the fork until the
	// pid is recorded, and for writing by a Reaper while it scans and reaps.
	forkLock sync.RWMutex
	mu       sync.Mutex
	pids     map[int]struct{}
}{pids: make(map[int]struct{})}

func register(pid int) {
	registry.mu.Lock()
	registry.pids[pid] = struct{}{}
	registry.mu.Unlock()
}

func unregister(pid int) {
	registry.mu.Lock()
	delete(registry.pids, pid)
	registry.mu.Unlock()
}

func registered(pid int) bool {
	registry.mu.Lock()
	_, ok := registry.pids[pid]
	registry.mu.Unlock()
	return ok
}
