package job

import (
	"testing"
)

// testHost is a GroupHost with one job, "a", in state st, and no server:
// enough to drive publish and the watchers directly.
func testHost(st State) (*GroupHost, *hjob) {
	h := &GroupHost{Name: "g", jobs: map[string]*hjob{}, watchers: map[*watcher]struct{}{}}
	j := &hjob{h: h, st: Status{Spec: Spec{ID: "a", Group: "g"}, State: st, Seq: h.seq.Add(1)}}
	h.jobs["a"] = j
	return h, j
}

// pending returns what w would send next, by job ID.
func pending(w *watcher) map[string]Status {
	out := map[string]Status{}
	for _, st := range w.take() {
		out[st.ID] = st
	}
	return out
}

// A job's report that was read before a later change, but pushed after
// it, must not replace it: the later change would never be sent, and the
// Manager would show the job in its earlier state for good. These are the
// interleavings the host produces, run in a fixed order.
func TestWatcherKeepsLatestReportUnderReordering(t *testing.T) {
	for _, tc := range []struct {
		name string
		from State
		race func(h *GroupHost, j *hjob, w *watcher)
		want State
	}{
		{
			// TestRun100Concurrently's lost "running" (seen once in a full
			// -race run: one of 100 jobs stuck in "starting"): a new watch
			// read its snapshot of the jobs, the job went running and
			// published to the (already registered) watcher, and then the
			// snapshot was pushed on top.
			name: "watch snapshot pushed after a change",
			from: StateStarting,
			race: func(h *GroupHost, j *hjob, w *watcher) {
				snap := h.list()
				j.update(func(st *Status) { st.State, st.PID = StateRunning, 42 })
				for _, st := range snap {
					w.push(st)
				}
			},
			want: StateRunning,
		},
		{
			// stop reads the status ("stopping") before publish takes
			// GroupHost.mu; the run loop's "stopped" can get there first.
			name: "stop's publish after the loop's",
			from: StateRunning,
			race: func(h *GroupHost, j *hjob, w *watcher) {
				j.mu.Lock()
				j.st.State, j.st.Seq = StateStopping, h.seq.Add(1)
				j.mu.Unlock()
				stale := j.status()
				j.update(func(st *Status) { st.State, st.PID = StateStopped, 0 })
				h.publish(stale)
			},
			want: StateStopped,
		},
		{
			name: "in order",
			from: StateStarting,
			race: func(h *GroupHost, j *hjob, w *watcher) {
				h.publish(j.status())
				j.update(func(st *Status) { st.State = StateRunning })
			},
			want: StateRunning,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, j := testHost(tc.from)
			w := newWatcher()
			h.mu.Lock()
			h.watchers[w] = struct{}{}
			h.mu.Unlock()
			tc.race(h, j, w)
			got, ok := pending(w)["a"]
			if !ok {
				t.Fatal("no report pending for job a")
			}
			if latest := j.status(); got.State != tc.want || got.Seq != latest.Seq {
				t.Fatalf("watcher would send %s (seq %d); the job is %s (seq %d), want %s",
					got.State, got.Seq, latest.State, latest.Seq, tc.want)
			}
		})
	}
}

// subscribe's snapshot and later changes reach the watcher, and a report
// already taken (sent) is followed by the later ones only.
func TestSubscribeSnapshotThenChanges(t *testing.T) {
	h, j := testHost(StateStarting)
	w := h.subscribe()
	if got := pending(w)["a"]; got.State != StateStarting {
		t.Fatalf("snapshot: %s, want %s", got.State, StateStarting)
	}
	select {
	case <-w.notify:
	default:
		t.Fatal("snapshot did not notify the watcher")
	}
	j.update(func(st *Status) { st.State = StateRunning })
	if got := pending(w)["a"]; got.State != StateRunning {
		t.Fatalf("after update: %q, want %s", got.State, StateRunning)
	}
	h.unsubscribe(w)
	j.update(func(st *Status) { st.State = StateStopped })
	if got := pending(w); len(got) != 0 {
		t.Fatalf("unsubscribed watcher got %v", got)
	}
}
