package job

import (
	"context"
	"time"
)

// autoRemoves reports whether the Manager removes j for having ended: an
// auto-remove job that ended by itself (not stopped by hand).
func autoRemoves(j *mjob) bool {
	st := j.st
	return st.AutoRemove && st.State.Terminal() && st.State != StateStopped && j.want == wantRunning
}

// changedLocked wakes the waiters of awaitSettled. Call with m.mu held.
func (m *Manager) changedLocked() {
	if m.changed != nil {
		close(m.changed)
	}
	m.changed = make(chan struct{})
}

// settleWait bounds awaitSettled: the host's report of a run's end comes on
// another stream than the attach that saw it, normally within milliseconds.
const settleWait = 5 * time.Second

// awaitSettled waits until the Manager's view of job id agrees that its
// run ended (the host has told the attach first, on another stream): the
// job is no longer running, or, if it removes itself, gone. So `warren
// run -i --rm` returns with the job already out of `warren ps`.
func (m *Manager) awaitSettled(ctx context.Context, id string) {
	t := time.NewTimer(settleWait)
	defer t.Stop()
	for {
		m.mu.Lock()
		j := m.jobs[id]
		// Settled: gone, or (unless it is about to remove itself) no
		// process running or about to (backoff: this run has ended).
		settled := j == nil || !autoRemoves(j) && !(j.st.State.Active() && j.st.State != StateBackoff)
		if m.changed == nil {
			m.changed = make(chan struct{})
		}
		ch := m.changed
		m.mu.Unlock()
		if settled {
			return
		}
		select {
		case <-ch:
		case <-t.C:
			return
		case <-ctx.Done():
			return
		}
	}
}
