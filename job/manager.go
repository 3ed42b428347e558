package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/warren-mesh/warren/internal/logging"
	"github.com/warren-mesh/warren/proc"
	"github.com/warren-mesh/warren/service"
)

// Manager is the daemon's side of the job model. It keeps job definitions
// and their last known status in WorkDir/state.json, runs one group host
// process per group (Exe ExeArgs... __group ...), and talks to each host over
// the host's unix socket. Group hosts outlive the Manager: Close leaves them
// running and the next Manager's Start re-adopts them (same PIDs).
//
// Fields are read by Start and must not change afterwards. Methods are safe
// for concurrent use.
type Manager struct {
	WorkDir string // state, sockets and logs (required)
	// SocketDir is the service-library socket dir where group hosts
	// publish {warren, group.<name>} ("" = WorkDir/run). The daemon passes
	// its own, so that `warren list` shows the groups.
	SocketDir string
	Exe       string       // binary that hosts groups (required): the daemon's own
	ExeArgs   []string     // arguments put before "__group" (tests re-executing themselves)
	GroupEnv  []string     // environment of group hosts; nil = this process's
	Log       *slog.Logger // nil = discard
	// Backoff is used for job restarts (inside the hosts) and for restarts
	// of a group host that died.
	Backoff proc.Backoff
	// QuarantineAfter quick failures in a row quarantine a job or a group
	// (0 = DefaultQuarantineAfter).
	QuarantineAfter int
	Grace           time.Duration // SIGTERM -> SIGKILL for executable jobs (0 = proc.DefaultGrace)
	// GroupStartTimeout bounds how long a new group host may take to answer
	// (0 = 10s).
	GroupStartTimeout time.Duration

	mu      sync.Mutex
	groups  map[string]*mgroup
	jobs    map[string]*mjob
	started bool
	closed  bool
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	saveMu  sync.Mutex
	dirty   chan struct{}
	client  *service.Client
	// changed is closed (and replaced) when a job's status or presence
	// changes, for waiters (settle.go).
	changed chan struct{}
}

// Lock order: Manager.mu, then mgroup fields (guarded by Manager.mu too);
// Manager.saveMu is never taken while holding Manager.mu.

type mjob struct {
	st   Status
	want string
}

type mgroup struct {
	name             string
	rtPrio, maxProcs int
	pid              int
	started          time.Time
	proc             *proc.Process // nil for an adopted host
	adopted          bool
	connected        bool
	upCh             chan struct{} // closed when connected; replaced on disconnect
	state            string
	note             string
	restarts         int
	gomaxprocs       int
	realtime         bool
	conn             *service.Conn   // cached connection to the host's service
	ctx              context.Context // ends when the Manager closes or the group is killed
	cancel           context.CancelFunc
	done             chan struct{} // closed when the supervisor returns
}

// Group states.
const (
	GroupStarting    = "starting"
	GroupRunning     = "running"
	GroupBackoff     = "backoff"
	GroupQuarantined = "quarantined"
)

// GroupStatus describes a group host.
type GroupStatus struct {
	Name     string `json:"name"`
	PID      int    `json:"pid"`
	RTPrio   int    `json:"rt_prio,omitempty"`
	MaxProcs int    `json:"max_procs,omitempty"`
	State    string `json:"state"`
	Adopted  bool   `json:"adopted"` // started by an earlier Manager and re-adopted
	Restarts int    `json:"restarts"`
	Jobs     int    `json:"jobs"`
	Note     string `json:"note,omitempty"`
	// GOMAXPROCS and Realtime are what the host reports it runs with.
	GOMAXPROCS int  `json:"gomaxprocs,omitempty"`
	Realtime   bool `json:"realtime,omitempty"`
}

func (m *Manager) log() *slog.Logger {
	if m.Log == nil {
		return logging.Discard()
	}
	return m.Log
}

func (m *Manager) sockDir() string {
	if m.SocketDir != "" {
		return m.SocketDir
	}
	return runDir(m.WorkDir)
}

func (m *Manager) quarantineAfter() int {
	if m.QuarantineAfter <= 0 {
		return DefaultQuarantineAfter
	}
	return m.QuarantineAfter
}

// Start loads the persisted state and re-adopts (or restarts) every group.
// It returns without waiting for the groups.
func (m *Manager) Start(ctx context.Context) error {
	if m.WorkDir == "" || m.Exe == "" {
		return errors.New("job: manager start: WorkDir and Exe are required")
	}
	for _, d := range []string{m.WorkDir, runDir(m.WorkDir), logDir(m.WorkDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("job: manager start: %w", err)
		}
	}
	st, err := loadState(statePath(m.WorkDir))
	if err != nil {
		return fmt.Errorf("job: manager start: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.started {
		return errors.New("job: manager start: already started")
	}
	m.started = true
	m.groups = map[string]*mgroup{}
	m.jobs = map[string]*mjob{}
	m.dirty = make(chan struct{}, 1)
	m.client = service.NewClient(service.WithScope(service.ScopeOS), service.WithSocketDir(m.sockDir()),
		service.WithLogger(m.log()))
	m.ctx, m.cancel = context.WithCancel(context.WithoutCancel(ctx))
	for _, js := range st.Jobs {
		m.jobs[js.Status.ID] = &mjob{st: js.Status, want: js.Want}
	}
	for _, gs := range st.Groups {
		g := m.newGroup(gs.Name, gs.RTPrio, gs.MaxProcs)
		g.pid, g.started = gs.PID, gs.Started
		m.groups[g.name] = g
		m.startSupervisor(g, false)
	}
	m.wg.Add(2)
	go m.persister()
	go func() {
		defer m.wg.Done()
		m.discoverHosts()
	}()
	return nil
}

// discoverHosts adopts the group hosts that serve on this socket dir but
// are missing from the state file: the state is saved shortly after a
// change, so a daemon killed right after starting a group leaves a host
// its successor would otherwise never learn of (and never stop). Only a
// host that answers is adopted; a socket a dead host left is ignored.
func (m *Manager) discoverHosts() {
	ents, err := os.ReadDir(filepath.Dir(sockPathRaw(m.sockDir(), "x")))
	if err != nil {
		return // no socket yet: nothing ever ran here
	}
	found := false
	for _, e := range ents {
		name, ok := strings.CutPrefix(e.Name(), hostServiceName(""))
		if name, ok = strings.CutSuffix(name, ".sock"); !ok || name == "" {
			continue
		}
		m.mu.Lock()
		known := m.groups[name] != nil
		m.mu.Unlock()
		if known {
			continue
		}
		probe := &mgroup{name: name}
		h, err := m.greet(m.ctx, probe, 500*time.Millisecond)
		if probe.conn != nil {
			probe.conn.Close()
		}
		if err != nil || filepath.Clean(h.WorkDir) != filepath.Clean(m.WorkDir) {
			continue // not serving, or another Manager's host in a shared socket dir
		}
		m.mu.Lock()
		if m.groups[name] == nil && !m.closed {
			g := m.newGroup(name, h.RTPrio, h.MaxProcs)
			g.pid = h.PID
			m.groups[name] = g
			m.startSupervisor(g, false)
			m.log().Info("found a group host missing from the state file", logging.KeyGroup, name, logging.KeyPID, h.PID)
			found = true
		}
		m.mu.Unlock()
	}
	if found {
		m.markDirty()
	}
}

// Close stops the Manager's goroutines and saves the state. Group hosts and
// their jobs keep running.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	if !m.started || m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.cancel()
	m.mu.Unlock()
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("job: manager close: %w", ctx.Err())
	}
	m.mu.Lock()
	for _, g := range m.groups {
		if c := g.conn; c != nil {
			g.conn = nil
			c.Close()
		}
	}
	m.mu.Unlock()
	return m.save()
}

// newGroup makes a group record; m.mu held and m.ctx set.
func (m *Manager) newGroup(name string, rt, mp int) *mgroup {
	g := &mgroup{name: name, rtPrio: rt, maxProcs: mp, upCh: make(chan struct{}),
		state: GroupStarting, done: make(chan struct{})}
	g.ctx, g.cancel = context.WithCancel(m.ctx)
	return g
}

// markDirty asks the persister to save soon.
func (m *Manager) markDirty() {
	select {
	case m.dirty <- struct{}{}:
	default:
	}
}

func (m *Manager) persister() {
	defer m.wg.Done()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-m.dirty:
		}
		if err := m.save(); err != nil {
			m.log().Error("save job state", logging.KeyErr, err)
		}
	}
}

// saveNow saves at once, for changes that must survive a crash right
// after the call returns; a failure is logged (the change itself is done).
func (m *Manager) saveNow() {
	if err := m.save(); err != nil {
		m.log().Error("save job state", logging.KeyErr, err)
	}
}

// save writes the state file atomically.
func (m *Manager) save() error {
	m.saveMu.Lock()
	defer m.saveMu.Unlock()
	m.mu.Lock()
	var st stateFile
	for _, g := range m.groups {
		st.Groups = append(st.Groups, groupState{Name: g.name, RTPrio: g.rtPrio, MaxProcs: g.maxProcs, PID: g.pid, Started: g.started})
	}
	for _, j := range m.jobs {
		st.Jobs = append(st.Jobs, jobState{Status: j.st, Want: j.want})
	}
	m.mu.Unlock()
	sort.Slice(st.Groups, func(a, b int) bool { return st.Groups[a].Name < st.Groups[b].Name })
	sort.Slice(st.Jobs, func(a, b int) bool { return st.Jobs[a].Status.Created.Before(st.Jobs[b].Status.Created) })
	if err := saveState(statePath(m.WorkDir), st); err != nil {
		return fmt.Errorf("job: %w", err)
	}
	return nil
}

func (m *Manager) check() error {
	if !m.started {
		return errors.New("job: manager not started")
	}
	if m.closed {
		return ErrClosed
	}
	return nil
}

// ensureGroup returns a connected group, starting its host if needed.
func (m *Manager) ensureGroup(ctx context.Context, name string, rt, mp int) (*mgroup, error) {
	for {
		m.mu.Lock()
		if err := m.check(); err != nil {
			m.mu.Unlock()
			return nil, err
		}
		g := m.groups[name]
		if g == nil {
			if _, err := sockPath(m.sockDir(), name); err != nil {
				m.mu.Unlock()
				return nil, fmt.Errorf("%w: %w", err, ErrBadSpec)
			}
			g = m.newGroup(name, rt, mp)
			m.groups[name] = g
			m.startSupervisor(g, true)
		}
		if g.state == GroupQuarantined {
			m.mu.Unlock()
			return nil, fmt.Errorf("job: group %s: %w: %s", name, ErrGroupFailed, g.note)
		}
		up, ch := g.connected, g.upCh
		m.mu.Unlock()
		if up {
			return g, nil
		}
		select {
		case <-ch:
		case <-g.done:
			// Killed or failed for good while we waited: look again.
			m.mu.Lock()
			same := m.groups[name] == g
			note := g.note
			m.mu.Unlock()
			if same {
				return nil, fmt.Errorf("job: group %s: %w: %s", name, ErrGroupFailed, note)
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("job: group %s: %w", name, ctx.Err())
		}
	}
}

// liveGroup returns the named group once it is connected, or nil when
// there is no such group or it cannot be reached (quarantined, killed, or
// ctx ended): callers then act on the Manager's records alone.
func (m *Manager) liveGroup(ctx context.Context, name string) *mgroup {
	for {
		m.mu.Lock()
		g := m.groups[name]
		if g == nil || g.state == GroupQuarantined {
			m.mu.Unlock()
			return nil
		}
		up, ch := g.connected, g.upCh
		m.mu.Unlock()
		if up {
			return g
		}
		select {
		case <-ch:
		case <-g.done:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

// startSupervisor runs g's supervisor; m.mu held.
func (m *Manager) startSupervisor(g *mgroup, fresh bool) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer close(g.done)
		m.supervise(g, fresh)
		m.mu.Lock()
		c := g.conn
		m.mu.Unlock()
		if c != nil {
			m.dropConn(g, c)
		}
	}()
}

func (m *Manager) sock(g *mgroup) hostRef { return hostRef{c: m.client, group: g.name} }

// call sends one request to g's host on a cached connection, redialing
// once if the connection turns out dead (the host restarted).
func (m *Manager) call(ctx context.Context, g *mgroup, req request) (response, error) {
	for attempt := 0; ; attempt++ {
		m.mu.Lock()
		c := g.conn
		m.mu.Unlock()
		if c == nil {
			var err error
			if c, err = m.sock(g).dial(ctx); err != nil {
				return response{}, fmt.Errorf("group %s: %w", g.name, err)
			}
			m.mu.Lock()
			if g.conn == nil {
				g.conn = c
			} else {
				c.Close()
				c = g.conn
			}
			m.mu.Unlock()
		}
		var resp response
		err := c.SendRecv(ctx, hostCall{Req: req}, &resp)
		if err == nil {
			return resp, resp.error()
		}
		m.dropConn(g, c)
		if attempt > 0 || ctx.Err() != nil {
			return response{}, fmt.Errorf("group %s: %w", g.name, err)
		}
	}
}

// dropConn forgets and closes g's cached connection c (if still cached).
func (m *Manager) dropConn(g *mgroup, c *service.Conn) {
	m.mu.Lock()
	if g.conn == c {
		g.conn = nil
	}
	m.mu.Unlock()
	c.Close()
}

// supervise keeps g's host running: it adopts or spawns the host, resumes
// its jobs, follows its status stream, and restarts it with backoff when it
// dies. A crash loop quarantines the group. It returns when the Manager
// closes (leaving the host running) or the group is killed.
func (m *Manager) supervise(g *mgroup, fresh bool) {
	log := m.log().With(logging.KeyGroup, g.name)
	tracker := proc.Tracker{B: m.Backoff}
	resetAfter := m.Backoff.ResetAfter
	if resetAfter <= 0 {
		resetAfter = proc.DefaultBackoff.ResetAfter
	}
	quick := 0
	failMsg := ""
	for attempt := 0; ; attempt++ {
		if m.stopped(g) {
			return
		}
		h, adopted, err := m.connectOrSpawn(g, fresh && attempt == 0)
		if err == nil {
			m.mu.Lock()
			g.pid, g.adopted = h.PID, adopted
			if g.started.IsZero() || !adopted {
				g.started = time.Now()
			}
			g.note, g.gomaxprocs, g.realtime = h.Note, h.GOMAXPROCS, h.Realtime
			m.mu.Unlock()
			if adopted {
				log.Info("re-adopted group host", logging.KeyPID, h.PID)
			}
			err = m.resume(g)
		}
		upSince := time.Now()
		if err == nil {
			err = m.follow(g) // blocks while the host lives
		}
		if m.stopped(g) {
			return
		}
		m.setConnected(g, false)
		m.mu.Lock()
		stale := g.conn
		m.mu.Unlock()
		if stale != nil {
			m.dropConn(g, stale)
		}
		if m.hostAlive(g) {
			if _, gerr := m.greet(g.ctx, g, time.Second); gerr == nil {
				// The host serves but the stream broke: reconnect.
				if !m.sleep(g, 50*time.Millisecond) {
					return
				}
				continue
			}
			// Not serving: it is exiting (a dying process closes its
			// sockets before it becomes a zombie) or hung. Give it a
			// moment, then make sure it is dead.
			m.awaitHostDeath(g)
			if m.stopped(g) {
				return
			}
		}
		if err != nil {
			failMsg = err.Error()
		} else {
			failMsg = "group host exited"
		}
		m.clearSession(g)
		uptime := time.Since(upSince)
		if uptime < resetAfter {
			quick++
		} else {
			quick = 0
			tracker.Reset()
		}
		m.mu.Lock()
		g.restarts++
		if quick >= m.quarantineAfter() {
			g.state = GroupQuarantined
			g.note = fmt.Sprintf("crash loop: host died %d times in a row within %v (%s); kill the group and run again", quick, resetAfter, failMsg)
		} else {
			g.state = GroupBackoff
			g.note = "restarting: " + failMsg
		}
		state, note := g.state, g.note
		for _, j := range m.jobs {
			if j.st.Group == g.name && (j.st.State.Active() || j.st.State == StateCreated) {
				j.st.PID = 0
				j.st.Note = note
				if state == GroupQuarantined {
					j.st.State = StateQuarantined
				} else {
					j.st.State = StateBackoff
				}
			}
		}
		m.mu.Unlock()
		m.markDirty()
		log.Warn("group host died", logging.KeyReason, failMsg, "state", state)
		if state == GroupQuarantined {
			return
		}
		if !m.sleep(g, tracker.Failure(uptime)) {
			return
		}
	}
}

func (m *Manager) stopped(g *mgroup) bool { return g.ctx.Err() != nil }

func (m *Manager) sleep(g *mgroup, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-g.ctx.Done():
		return false
	}
}

func (m *Manager) setConnected(g *mgroup, up bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if g.connected == up {
		return
	}
	g.connected = up
	if up {
		g.state = GroupRunning
		close(g.upCh)
	} else {
		g.upCh = make(chan struct{})
	}
}

// hostAlive says whether g's host process still runs.
func (m *Manager) hostAlive(g *mgroup) bool {
	m.mu.Lock()
	pid := g.pid
	m.mu.Unlock()
	// Alive is false for a zombie too: a host we started and that died is
	// one until proc reaps it.
	return pid > 0 && proc.Alive(pid)
}

// awaitHostDeath waits up to two seconds for g's host to die, then kills
// it: a host that does not serve its socket is of no use.
func (m *Manager) awaitHostDeath(g *mgroup) {
	deadline := time.Now().Add(2 * time.Second)
	for m.hostAlive(g) && time.Now().Before(deadline) {
		if !m.sleep(g, 10*time.Millisecond) {
			return
		}
	}
	m.mu.Lock()
	pid := g.pid
	m.mu.Unlock()
	if m.hostAlive(g) {
		m.log().Warn("group host does not answer; killing it", logging.KeyGroup, g.name, logging.KeyPID, pid)
		syscall.Kill(pid, syscall.SIGKILL)
		for i := 0; i < 200 && m.hostAlive(g); i++ {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// clearSession kills what a dead host left in its session: job processes
// whose leader Pdeathsig ended but whose children it does not reach.
func (m *Manager) clearSession(g *mgroup) {
	m.mu.Lock()
	pid := g.pid
	m.mu.Unlock()
	if pid > 0 && !proc.Alive(pid) {
		if killed := proc.KillSession(pid, syscall.SIGKILL); len(killed) > 0 {
			m.log().Info("killed leftovers of a dead group host", logging.KeyGroup, g.name, "pids", killed)
		}
	}
}

// connectOrSpawn greets a running host (adopting it) or starts a new one.
func (m *Manager) connectOrSpawn(g *mgroup, fresh bool) (hello, bool, error) {
	if h, err := m.greet(g.ctx, g, 500*time.Millisecond); err == nil {
		return h, !fresh, nil
	}
	m.clearSession(g)
	// Whatever the records say of this group's jobs is stale now: they
	// start again with the new host.
	m.mu.Lock()
	for _, j := range m.jobs {
		if j.st.Group == g.name && j.st.State.Active() && j.st.PID != 0 {
			j.st.State, j.st.PID = StateStarting, 0
		}
	}
	m.mu.Unlock()
	h, err := m.spawn(g)
	return h, false, err
}

func (m *Manager) greet(ctx context.Context, g *mgroup, timeout time.Duration) (hello, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := m.call(ctx, g, request{Op: opHello})
	if err != nil {
		return hello{}, err
	}
	if resp.Hello == nil || resp.Hello.Name != g.name {
		return hello{}, fmt.Errorf("job: group %s: socket answered for another group", g.name)
	}
	return *resp.Hello, nil
}

// spawn starts a group host and waits until it answers.
func (m *Manager) spawn(g *mgroup) (hello, error) {
	m.mu.Lock()
	host := &GroupHost{WorkDir: m.WorkDir, SocketDir: m.SocketDir, Name: g.name, RTPrio: g.rtPrio, MaxProcs: g.maxProcs,
		Backoff: m.Backoff, QuarantineAfter: m.QuarantineAfter, Grace: m.Grace}
	m.mu.Unlock()
	args := append(append(append([]string(nil), m.ExeArgs...), "__group"), host.args()...)
	// The host outlives us: no death signal, its own session, no pipes to
	// us (a write to a pipe whose reader died would kill it with SIGPIPE).
	p, err := proc.Start(context.Background(), proc.Spec{Path: m.Exe, Args: args, Env: m.GroupEnv,
		Dir: m.WorkDir, NoDeathSignal: true, Grace: 30 * time.Second})
	if err != nil {
		return hello{}, fmt.Errorf("job: group %s: start host: %w", g.name, err)
	}
	m.mu.Lock()
	g.proc, g.pid = p, p.PID()
	m.mu.Unlock()
	timeout := m.GroupStartTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	deadline := time.Now().Add(timeout)
	for wait := time.Millisecond; ; {
		h, err := m.greet(g.ctx, g, time.Second)
		if err == nil && h.PID == p.PID() {
			m.log().Info("group host started", logging.KeyGroup, g.name, logging.KeyPID, h.PID)
			return h, nil
		}
		select {
		case <-p.Done():
			return hello{}, fmt.Errorf("job: group %s: host exited with code %d before serving (see %s and .stderr)",
				g.name, p.ExitCode(), groupLogPath(m.WorkDir, g.name))
		case <-g.ctx.Done():
			return hello{}, g.ctx.Err()
		case <-time.After(wait):
		}
		if time.Now().After(deadline) {
			p.Stop(context.Background())
			return hello{}, fmt.Errorf("job: group %s: host did not answer within %v", g.name, timeout)
		}
		wait = min(wait*2, 50*time.Millisecond)
	}
}

// resume gives the host every job of g it lacks (after a host restart, or
// jobs defined while it was down), then marks g connected.
func (m *Manager) resume(g *mgroup) error {
	resp, err := m.call(g.ctx, g, request{Op: opList})
	if err != nil {
		return err
	}
	have := map[string]bool{}
	m.mu.Lock()
	adopted := 0
	for _, st := range resp.Jobs {
		have[st.ID] = true
		if j := m.jobs[st.ID]; j != nil && j.st.Group != g.name {
			m.log().Warn("a group host runs a job the state file places in another group; its reports are ignored",
				logging.KeyGroup, g.name, logging.KeyJob, st.ID, "state_group", j.st.Group)
		}
		if m.jobs[st.ID] == nil {
			// The host runs a job the state file lacks (the daemon died
			// before saving it): the host's record is the truth. A job
			// the host holds as created was defined stopped (a job list's
			// "stopped": a started one leaves created before its host
			// answers the run), so it is not started at the next resume.
			want := wantRunning
			if st.State == StateStopped || st.State == StateCreated {
				want = wantStopped
			}
			m.jobs[st.ID] = &mjob{st: st, want: want}
			adopted++
		}
	}
	if adopted > 0 {
		m.log().Info("adopted jobs missing from the state file", logging.KeyGroup, g.name, "jobs", adopted)
		m.markDirty()
	}
	var todo []mjob
	for _, j := range m.jobs {
		if j.st.Group == g.name && !have[j.st.ID] {
			todo = append(todo, *j)
		}
	}
	m.mu.Unlock()
	for _, j := range todo {
		prev := j.st
		if prev.State.Active() {
			prev.State = StateCreated // resumed: the host starts it again
		}
		spec := prev.Spec
		_, err := m.call(g.ctx, g, request{Op: opRun, Spec: &spec, Prev: &prev, Want: j.want})
		if err != nil {
			return fmt.Errorf("job: group %s: resume %s: %w", g.name, spec.ID, err)
		}
	}
	m.setConnected(g, true)
	return nil
}

// follow reads g's status stream into the job table until it breaks.
func (m *Manager) follow(g *mgroup) error {
	conn, err := m.sock(g).dial(g.ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	st := conn.NewStream()
	defer st.Close()
	if err := st.SendContext(g.ctx, hostCall{Req: request{Op: opWatch}}); err != nil {
		return err
	}
	for {
		var resp response
		if err := st.RecvContext(g.ctx, &resp); err != nil {
			if errors.Is(err, io.EOF) || m.stopped(g) {
				return nil
			}
			return err
		}
		if resp.Status != nil {
			m.observe(g, *resp.Status)
		}
	}
}

// observe records a status a host reported.
func (m *Manager) observe(g *mgroup, st Status) {
	m.mu.Lock()
	j := m.jobs[st.ID]
	if j == nil || j.st.Group != g.name || st.Seq < j.st.Seq {
		m.mu.Unlock()
		return // removed or moved meanwhile, or an older report
	}
	j.st = st
	remove := autoRemoves(j)
	m.changedLocked()
	m.mu.Unlock()
	m.markDirty()
	if remove {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			if err := m.Remove(m.ctx, st.ID); err != nil && !errors.Is(err, ErrNotFound) {
				m.log().Warn("auto-remove", logging.KeyJob, st.ID, logging.KeyErr, err)
			}
		}()
	}
}

// Run defines a job and starts it in its group (created as needed). The
// returned status is the job's right after the start request.
func (m *Manager) Run(ctx context.Context, spec Spec) (Status, error) {
	if err := spec.normalize(); err != nil {
		return Status{}, err
	}
	return m.create(ctx, spec, true)
}

// create defines a normalized job and, if start, starts it.
func (m *Manager) create(ctx context.Context, spec Spec, start bool) (Status, error) {
	want := wantRunning
	if !start {
		want = wantStopped
	}
	m.mu.Lock()
	if err := m.check(); err != nil {
		m.mu.Unlock()
		return Status{}, err
	}
	if spec.ID == "" {
		for spec.ID = newID(); m.jobs[spec.ID] != nil; spec.ID = newID() {
		}
	} else if m.jobs[spec.ID] != nil {
		m.mu.Unlock()
		return Status{}, fmt.Errorf("job: run: id %s in use: %w", spec.ID, ErrBadSpec)
	}
	var note string
	if g := m.groups[spec.Group]; g != nil && (spec.RTPrio != 0 && spec.RTPrio != g.rtPrio || spec.MaxProcs != 0 && spec.MaxProcs != g.maxProcs) {
		note = fmt.Sprintf("group %s already runs with rt=%d maxprocs=%d; --rt/--maxprocs apply when a group is created", g.name, g.rtPrio, g.maxProcs)
	}
	j := &mjob{st: Status{Spec: spec, State: StateCreated, Created: time.Now(), Note: note}, want: want}
	m.jobs[spec.ID] = j
	m.mu.Unlock()

	st, err := m.runInGroup(ctx, j.st, want)
	if err != nil {
		m.mu.Lock()
		delete(m.jobs, spec.ID)
		m.mu.Unlock()
		return Status{}, fmt.Errorf("job: run %s: %w", spec.Path, err)
	}
	m.markDirty()
	return st, nil
}

// runInGroup sends a job to its group's host.
func (m *Manager) runInGroup(ctx context.Context, prev Status, want string) (Status, error) {
	g, err := m.ensureGroup(ctx, prev.Group, prev.RTPrio, prev.MaxProcs)
	if err != nil {
		return Status{}, err
	}
	m.mu.Lock()
	if prev.RTPrio > 0 && g.note != "" && prev.Note == "" {
		prev.Note = g.note // the clear warning: --rt was asked for and refused
	}
	m.mu.Unlock()
	spec := prev.Spec
	resp, err := m.call(ctx, g, request{Op: opRun, Spec: &spec, Prev: &prev, Want: want})
	if err != nil {
		return Status{}, err
	}
	return m.record(g, resp), nil
}

// record stores a status a host returned in a reply; m.mu not held.
func (m *Manager) record(g *mgroup, resp response) Status {
	if resp.Status == nil {
		return Status{}
	}
	st := *resp.Status
	if st.Note == "" {
		m.mu.Lock()
		if j := m.jobs[st.ID]; j != nil && j.st.Note != "" && j.st.State == StateCreated {
			st.Note = j.st.Note // keep the Manager's own remark (rt/maxprocs ignored)
		}
		m.mu.Unlock()
	}
	m.observe(g, st)
	return st
}

// lookup finds a job by ID, or by name when exactly one job has it.
// m.mu held.
func (m *Manager) lookup(id string) (*mjob, error) {
	if j := m.jobs[id]; j != nil {
		return j, nil
	}
	var found *mjob
	for _, j := range m.jobs {
		if j.st.Name == id {
			if found != nil {
				return nil, fmt.Errorf("job: %q names several jobs; use an ID: %w", id, ErrNotFound)
			}
			found = j
		}
	}
	if found == nil {
		return nil, fmt.Errorf("job: %s: %w", id, ErrNotFound)
	}
	return found, nil
}

// Get returns a job's status (by ID, or by a name only one job has).
func (m *Manager) Get(id string) (Status, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(); err != nil {
		return Status{}, err
	}
	j, err := m.lookup(id)
	if err != nil {
		return Status{}, err
	}
	return j.st, nil
}

// List returns the jobs whose ID, name or group matches any pattern (shell
// globs); no pattern lists every job. Oldest first.
func (m *Manager) List(patterns ...string) []Status {
	m.mu.Lock()
	var out []Status
	for _, j := range m.jobs {
		if matchAny(patterns, j.st.ID, j.st.Name, j.st.Group) {
			out = append(out, j.st)
		}
	}
	m.mu.Unlock()
	sort.Slice(out, func(a, b int) bool {
		if !out[a].Created.Equal(out[b].Created) {
			return out[a].Created.Before(out[b].Created)
		}
		return out[a].ID < out[b].ID
	})
	return out
}

func matchAny(patterns []string, names ...string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		for _, n := range names {
			if ok, _ := path.Match(p, n); ok {
				return true
			}
		}
	}
	return false
}

// Groups lists the group hosts.
func (m *Manager) Groups() []GroupStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]GroupStatus, 0, len(m.groups))
	for _, g := range m.groups {
		gs := GroupStatus{Name: g.name, PID: g.pid, RTPrio: g.rtPrio, MaxProcs: g.maxProcs, State: g.state,
			Adopted: g.adopted, Restarts: g.restarts, Note: g.note, GOMAXPROCS: g.gomaxprocs, Realtime: g.realtime}
		for _, j := range m.jobs {
			if j.st.Group == g.name {
				gs.Jobs++
			}
		}
		out = append(out, gs)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}

// Stop stops a job (SIGTERM then SIGKILL for an executable; cancellation
// for an interpreted one) and returns once it has stopped.
func (m *Manager) Stop(ctx context.Context, id string) error {
	_, err := m.StopJob(ctx, id)
	return err
}

// StopJob is Stop returning the job's status.
func (m *Manager) StopJob(ctx context.Context, id string) (Status, error) {
	m.mu.Lock()
	if err := m.check(); err != nil {
		m.mu.Unlock()
		return Status{}, err
	}
	j, err := m.lookup(id)
	if err != nil {
		m.mu.Unlock()
		return Status{}, err
	}
	j.want = wantStopped
	st := j.st
	m.mu.Unlock()
	m.markDirty()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	g := m.liveGroup(wctx, st.Group)
	cancel()
	if g == nil {
		m.mu.Lock()
		if !j.st.State.Terminal() {
			j.st.State, j.st.PID = StateStopped, 0
		}
		st = j.st
		m.mu.Unlock()
		return st, nil
	}
	resp, err := m.call(ctx, g, request{Op: opStop, ID: st.ID})
	if errors.Is(err, ErrNotFound) {
		return st, nil
	}
	if err != nil {
		return Status{}, fmt.Errorf("job: stop %s: %w", id, err)
	}
	return m.record(g, resp), nil
}

// StartJob starts a stopped, ended or quarantined job again, with the same
// ID, in its group.
func (m *Manager) StartJob(ctx context.Context, id string) error {
	_, err := m.StartJobStatus(ctx, id)
	return err
}

// StartJobStatus is StartJob returning the job's status.
func (m *Manager) StartJobStatus(ctx context.Context, id string) (Status, error) {
	m.mu.Lock()
	if err := m.check(); err != nil {
		m.mu.Unlock()
		return Status{}, err
	}
	j, err := m.lookup(id)
	if err != nil {
		m.mu.Unlock()
		return Status{}, err
	}
	if j.st.State.Active() {
		m.mu.Unlock()
		return Status{}, fmt.Errorf("job: start %s: %w", id, ErrRunning)
	}
	j.want = wantRunning
	st := j.st
	m.mu.Unlock()
	g, err := m.ensureGroup(ctx, st.Group, st.RTPrio, st.MaxProcs)
	if err != nil {
		return Status{}, fmt.Errorf("job: start %s: %w", id, err)
	}
	resp, err := m.call(ctx, g, request{Op: opStart, ID: st.ID})
	if errors.Is(err, ErrNotFound) {
		prev := st
		prev.State = StateCreated
		spec := prev.Spec
		resp, err = m.call(ctx, g, request{Op: opRun, Spec: &spec, Prev: &prev, Want: wantRunning})
	}
	if err != nil {
		return Status{}, fmt.Errorf("job: start %s: %w", id, err)
	}
	m.markDirty()
	return m.record(g, resp), nil
}

// Remove deletes a job that is not running, and its logs.
func (m *Manager) Remove(ctx context.Context, id string) error {
	_, err := m.RemoveJob(ctx, id)
	return err
}

// RemoveJob is Remove returning the job's last status.
func (m *Manager) RemoveJob(ctx context.Context, id string) (Status, error) {
	m.mu.Lock()
	if err := m.check(); err != nil {
		m.mu.Unlock()
		return Status{}, err
	}
	j, err := m.lookup(id)
	if err != nil {
		m.mu.Unlock()
		return Status{}, err
	}
	st := j.st
	if st.State.Active() {
		m.mu.Unlock()
		return Status{}, fmt.Errorf("job: remove %s: %w (stop it first)", id, ErrRunning)
	}
	m.mu.Unlock()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	g := m.liveGroup(wctx, st.Group)
	cancel()
	if g != nil {
		if _, err := m.call(ctx, g, request{Op: opRemove, ID: st.ID}); err != nil && !errors.Is(err, ErrNotFound) {
			return Status{}, fmt.Errorf("job: remove %s: %w", id, err)
		}
	}
	m.mu.Lock()
	delete(m.jobs, st.ID)
	m.changedLocked()
	m.mu.Unlock()
	for _, f := range proc.LogFiles(jobLogPath(m.WorkDir, st.ID), 0) {
		os.Remove(f)
	}
	// Saved before answering: a daemon killed right after would otherwise
	// find the job in the state file and give it back to its group. (Jobs
	// run with --rm come here too, one state write per exit, off any
	// caller's path.)
	m.saveNow()
	return st, nil
}

// KillGroup ends the groups whose names match pattern (a shell glob). A
// group with running jobs is refused (ErrGroupBusy) unless force; with force
// its jobs are stopped first. Killed groups' jobs stay defined, stopped.
func (m *Manager) KillGroup(ctx context.Context, pattern string, force bool) error {
	_, err := m.KillGroups(ctx, pattern, force)
	return err
}

// KillGroups is KillGroup returning the names of the groups it ended.
func (m *Manager) KillGroups(ctx context.Context, pattern string, force bool) ([]string, error) {
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, fmt.Errorf("job: kill %q: %w: %w", pattern, err, ErrBadSpec)
	}
	m.mu.Lock()
	if err := m.check(); err != nil {
		m.mu.Unlock()
		return nil, err
	}
	var gs []*mgroup
	for name, g := range m.groups {
		if ok, _ := path.Match(pattern, name); ok {
			gs = append(gs, g)
		}
	}
	if len(gs) == 0 {
		m.mu.Unlock()
		return nil, fmt.Errorf("job: kill %q: no such group: %w", pattern, ErrNotFound)
	}
	if !force {
		for _, g := range gs {
			for _, j := range m.jobs {
				if j.st.Group == g.name && j.st.State.Active() {
					m.mu.Unlock()
					return nil, fmt.Errorf("job: kill group %s: job %s (%s) is %s; use force: %w",
						g.name, j.st.ID, j.st.Name, j.st.State, ErrGroupBusy)
				}
			}
		}
	}
	m.mu.Unlock()
	sort.Slice(gs, func(a, b int) bool { return gs[a].name < gs[b].name })
	var names []string
	// Saved before answering, as for Remove: the next daemon must not
	// bring a killed group back.
	defer m.saveNow()
	for _, g := range gs {
		if err := m.killGroup(ctx, g); err != nil {
			return names, err
		}
		names = append(names, g.name)
	}
	return names, nil
}

func (m *Manager) killGroup(ctx context.Context, g *mgroup) error {
	// Stop supervising first, so that the host's exit is not taken for a
	// crash. The busy check was done on the Manager's view of the jobs, so
	// the host is told to stop whatever runs.
	g.cancel()
	if m.hostAlive(g) {
		if _, err := m.call(ctx, g, request{Op: opShutdown, Force: true}); err != nil && !isConnErr(err) {
			return fmt.Errorf("job: kill group %s: %w", g.name, err)
		}
	}
	// Wait for the host to finish stopping its jobs and exit.
	if err := m.waitHostGone(ctx, g); err != nil {
		return fmt.Errorf("job: kill group %s: %w", g.name, err)
	}
	select {
	case <-g.done:
	case <-ctx.Done():
		return fmt.Errorf("job: kill group %s: %w", g.name, ctx.Err())
	}
	m.mu.Lock()
	if c := g.conn; c != nil {
		g.conn = nil
		defer c.Close()
	}
	if m.groups[g.name] == g {
		delete(m.groups, g.name)
	}
	for _, j := range m.jobs {
		if j.st.Group == g.name {
			j.want = wantStopped
			if !j.st.State.Terminal() || j.st.State == StateQuarantined && g.state == GroupQuarantined {
				j.st.State, j.st.PID = StateStopped, 0
				j.st.Note = "group killed"
			}
		}
	}
	m.mu.Unlock()
	m.log().Info("group killed", logging.KeyGroup, g.name)
	return nil
}

func (m *Manager) waitHostGone(ctx context.Context, g *mgroup) error {
	m.mu.Lock()
	p, pid := g.proc, g.pid
	m.mu.Unlock()
	if p != nil {
		select {
		case <-p.Done():
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for wait := time.Millisecond; pid > 0 && proc.Alive(pid); wait = min(wait*2, 50*time.Millisecond) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	return nil
}

// Move moves a job to another group: it is stopped where it runs and
// started again in group (created as needed) with the same ID.
func (m *Manager) Move(ctx context.Context, id, group string) error {
	_, err := m.MoveJob(ctx, id, group)
	return err
}

// MoveJob is Move returning the job's status in its new group.
func (m *Manager) MoveJob(ctx context.Context, id, group string) (Status, error) {
	if !ValidGroupName(group) {
		return Status{}, fmt.Errorf("job: move %s: group %q: %w", id, group, ErrBadSpec)
	}
	m.mu.Lock()
	if err := m.check(); err != nil {
		m.mu.Unlock()
		return Status{}, err
	}
	j, err := m.lookup(id)
	if err != nil {
		m.mu.Unlock()
		return Status{}, err
	}
	st := j.st
	m.mu.Unlock()
	if st.Group == group {
		return st, nil
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	old := m.liveGroup(wctx, st.Group)
	cancel()
	if old != nil {
		if _, err := m.call(ctx, old, request{Op: opRemove, ID: st.ID, Force: true}); err != nil && !errors.Is(err, ErrNotFound) {
			return Status{}, fmt.Errorf("job: move %s: leave %s: %w", id, st.Group, err)
		}
	}
	m.mu.Lock()
	// Seq 0: the new group's host numbers its reports on its own clock.
	j.st.Group, j.st.State, j.st.PID, j.st.Seq, j.want = group, StateCreated, 0, 0, wantRunning
	prev := j.st
	m.mu.Unlock()
	// Saved before the new group gets it: a daemon killed after that, with
	// the old group in the state file, would start it there again.
	m.saveNow()
	out, err := m.runInGroup(ctx, prev, wantRunning)
	if err != nil {
		return Status{}, fmt.Errorf("job: move %s: %w", id, err)
	}
	return out, nil
}
