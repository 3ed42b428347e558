package job

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warren-mesh/warren/internal/logging"
	"github.com/warren-mesh/warren/internal/testutil"
	"github.com/warren-mesh/warren/proc"
)

// env is one test's work dir, scripts and sleep marker.
type env struct {
	t    *testing.T
	wd   string
	mark string // unique sleep duration: finds leftover processes
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, wd: t.TempDir(), mark: strconv.Itoa(100000 + rand.IntN(800000))}
	t.Cleanup(func() { e.noLeftovers() })
	return e
}

// script writes an executable sh script; SLEEP in body becomes a long
// sleep carrying the test's marker.
func (e *env) script(name, body string) string {
	e.t.Helper()
	p := filepath.Join(e.wd, name)
	body = strings.ReplaceAll(body, "SLEEP", "sleep "+e.mark)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) goFile(name, body string) string {
	e.t.Helper()
	p := filepath.Join(e.wd, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) manager() *Manager {
	e.t.Helper()
	exe, err := os.Executable()
	if err != nil {
		e.t.Fatal(err)
	}
	l, _ := logging.New(testWriter{e.t}, logging.Options{Format: "text", Level: "debug"})
	return &Manager{
		WorkDir:         filepath.Join(e.wd, "jobs"),
		Exe:             exe,
		GroupEnv:        append(os.Environ(), "JOB_TEST_HOST=1"),
		Log:             l,
		Backoff:         proc.Backoff{Base: 20 * time.Millisecond, Cap: 200 * time.Millisecond, ResetAfter: 10 * time.Second},
		QuarantineAfter: 3,
		Grace:           2 * time.Second,
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// start starts a Manager whose groups are all killed at the end of the test.
func (e *env) start() *Manager {
	e.t.Helper()
	m := e.manager()
	if err := m.Start(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { e.shutdown(m) })
	return m
}

func (e *env) shutdown(m *Manager) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if m.closed {
		return
	}
	if _, err := m.KillGroups(ctx, "*", true); err != nil && !errors.Is(err, ErrNotFound) {
		e.t.Errorf("kill groups: %v", err)
	}
	if err := m.Close(ctx); err != nil {
		e.t.Errorf("close: %v", err)
	}
}

// noLeftovers fails if a process of this test (host, job, or a marked
// sleep) is still alive.
func (e *env) noLeftovers() {
	e.t.Helper()
	testutil.Eventually(e.t, 15*time.Second, func() error {
		if pids := e.procs(); len(pids) > 0 {
			return fmt.Errorf("leftover processes: %v", pids)
		}
		return nil
	})
}

func (e *env) procs() []string {
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + ent.Name() + "/cmdline")
		if err != nil || len(b) == 0 {
			continue // gone, or a zombie
		}
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmd, e.wd) || strings.Contains(cmd, "sleep "+e.mark) {
			out = append(out, ent.Name()+":"+cmd)
		}
	}
	return out
}

// waitState waits for a job to reach state.
func waitState(t *testing.T, m *Manager, id string, want State) Status {
	t.Helper()
	var st Status
	testutil.Eventually(t, 20*time.Second, func() error {
		var err error
		st, err = m.Get(id)
		if err != nil {
			return err
		}
		if st.State != want {
			return fmt.Errorf("job %s is %s (%s %s), want %s", id, st.State, st.Error, st.Note, want)
		}
		if want == StateRunning && st.PID == 0 {
			return errors.New("running without a pid yet")
		}
		return nil
	})
	return st
}

func waitGroup(t *testing.T, m *Manager, name string, cond func(GroupStatus) error) GroupStatus {
	t.Helper()
	var gs GroupStatus
	testutil.Eventually(t, 20*time.Second, func() error {
		for _, g := range m.Groups() {
			if g.Name == name {
				gs = g
				return cond(g)
			}
		}
		return fmt.Errorf("no group %s", name)
	})
	return gs
}

func logsOf(t *testing.T, m *Manager, id string) string {
	t.Helper()
	var b strings.Builder
	if err := m.Logs(context.Background(), id, 0, false, &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
