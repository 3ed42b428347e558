package job

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warren-mesh/warren/proc"
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

// A job its policy restarts goes from running straight to backoff (or
// quarantine): a report of "failed" or "exited" between the two made the
// Manager remove an auto-remove job after its first failure, `logs -f`
// stop following, and TestExitCodesAndRestartPolicies read a failed job
// with no restarts. Every report the host publishes is checked, in order.
func TestRestartedJobNeverReportsAnEnd(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{runDir(dir), logDir(dir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	script := filepath.Join(dir, "fail.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		restart    string
		quarantine int
		want       []State // the states of every report after the first start
	}{
		{"on-failure:2", 10, []State{StateRunning, StateBackoff, StateStarting, StateRunning, StateBackoff,
			StateStarting, StateRunning, StateFailed}},
		{"always", 2, []State{StateRunning, StateBackoff, StateStarting, StateRunning, StateQuarantined}},
	} {
		t.Run(tc.restart, func(t *testing.T) {
			pol, err := ParseRestartPolicy(tc.restart)
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var got []State
			h := &GroupHost{Name: "g", WorkDir: dir, jobs: map[string]*hjob{}, watchers: map[*watcher]struct{}{},
				Log: slog.New(slog.DiscardHandler), QuarantineAfter: tc.quarantine,
				Backoff: proc.Backoff{Base: time.Millisecond, Cap: time.Millisecond, ResetAfter: time.Minute}}
			h.published = func(st Status) {
				mu.Lock()
				got = append(got, st.State)
				mu.Unlock()
			}
			id := strings.ReplaceAll(tc.restart, ":", "-")
			if _, err := h.run(Spec{ID: id, Path: script, Restart: pol}, nil, true); err != nil {
				t.Fatal(err)
			}
			h.wg.Wait() // the run loop's end
			h.jobs[id].closeLog()
			mu.Lock()
			defer mu.Unlock()
			// created, starting, then the loop's reports, then the loop's
			// final report repeats the end state.
			if len(got) < 3 || got[0] != StateCreated || got[1] != StateStarting {
				t.Fatalf("reports %v", got)
			}
			loop := got[2 : len(got)-1]
			if fmt.Sprint(loop) != fmt.Sprint(tc.want) || got[len(got)-1] != tc.want[len(tc.want)-1] {
				t.Fatalf("reports %v, want created starting %v and the end again", got, tc.want)
			}
		})
	}
}
