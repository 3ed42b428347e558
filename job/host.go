package job

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/warren-mesh/warren/internal/logging"
	"github.com/warren-mesh/warren/proc"
	"github.com/warren-mesh/warren/service"
)

// Program is what an Interpreter runs: the shape of job/interp's Program.
type Program struct {
	Path           string
	Args, Env      []string
	Dir            string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Result is how an interpreted program ended.
type Result struct {
	ExitCode int
	ModeUsed Mode
	Note     string
}

// Interpreter runs Go programs for a group host (job/interp in warren).
type Interpreter interface {
	Run(ctx context.Context, p Program, mode Mode) (Result, error)
}

// Group host defaults.
const (
	// DefaultQuarantineAfter consecutive quick failures (each up for less
	// than Backoff.ResetAfter) make a crash loop: the job is quarantined.
	DefaultQuarantineAfter = 5
	// interactiveWait is how long an interactive job waits for its first
	// attach before it starts with no one listening.
	interactiveWait = 30 * time.Second
)

// GroupHost is the process that hosts one group's jobs: `warren __group`.
// It runs executables through proc and Go programs through Interp, applies
// restart policies, writes job logs, and serves the Manager on a unix socket
// in the work dir. It keeps running when the Manager goes away.
type GroupHost struct {
	WorkDir, Name    string
	SocketDir        string // service socket dir of the control service; "" = WorkDir/run
	RTPrio, MaxProcs int
	Interp           Interpreter // nil: Go programs fail with ErrNoInterp
	Log              *slog.Logger
	Backoff          proc.Backoff
	QuarantineAfter  int
	Grace            time.Duration // SIGTERM -> SIGKILL for executable jobs

	// Lock order: GroupHost.mu, then hjob.mu, then watcher.mu. hjob.update
	// releases hjob.mu before it publishes (which takes GroupHost.mu).
	mu       sync.Mutex
	jobs     map[string]*hjob
	watchers map[*watcher]struct{}
	note     string
	// published, when set (by tests), sees every report publish sends, in
	// order, before watchers coalesce them.
	published func(Status)

	seq      atomic.Int64   // Status.Seq source
	wg       sync.WaitGroup // job loops and connections
	shutdown chan struct{}
	once     sync.Once
}

// GroupMain is the body of the hidden `warren __group` command: it parses
// args and runs a GroupHost until ctx ends or the Manager shuts it down.
func GroupMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return GroupMainWith(ctx, args, nil, stderr)
}

// GroupMainWith is GroupMain with an Interpreter for Go programs.
func GroupMainWith(ctx context.Context, args []string, in Interpreter, stderr io.Writer) error {
	fs := flag.NewFlagSet("__group", flag.ContinueOnError)
	fs.SetOutput(stderr)
	h := &GroupHost{Interp: in}
	fs.StringVar(&h.WorkDir, "workdir", "", "job work dir")
	fs.StringVar(&h.Name, "name", "", "group name")
	fs.StringVar(&h.SocketDir, "socket-dir", "", "service socket dir (default WORKDIR/run)")
	fs.IntVar(&h.RTPrio, "rt", 0, "SCHED_RR priority (1-99)")
	fs.IntVar(&h.MaxProcs, "maxprocs", 0, "GOMAXPROCS")
	fs.DurationVar(&h.Backoff.Base, "backoff-base", 0, "restart backoff base")
	fs.DurationVar(&h.Backoff.Cap, "backoff-cap", 0, "restart backoff cap")
	fs.DurationVar(&h.Backoff.ResetAfter, "backoff-reset", 0, "uptime that resets the backoff")
	fs.IntVar(&h.QuarantineAfter, "quarantine-after", 0, "quick failures in a row that quarantine a job")
	fs.DurationVar(&h.Grace, "grace", 0, "SIGTERM -> SIGKILL delay")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if h.WorkDir == "" || !ValidGroupName(h.Name) {
		return fmt.Errorf("job: group host: need --workdir and a valid --name")
	}
	// The host's stderr is /dev/null (it must not hold a pipe to the
	// daemon); point fd 2 at a file so a runtime panic leaves its trace.
	if err := os.MkdirAll(logDir(h.WorkDir), 0o700); err == nil {
		p := groupLogPath(h.WorkDir, h.Name) + ".stderr"
		if fi, err := os.Stat(p); err == nil && fi.Size() > 1<<20 {
			os.Remove(p)
		}
		if f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err == nil {
			unix.Dup3(int(f.Fd()), 2, 0)
			f.Close()
		}
	}
	return h.Run(ctx)
}

func (h *GroupHost) grace() time.Duration {
	if h.Grace <= 0 {
		return proc.DefaultGrace
	}
	return h.Grace
}

func (h *GroupHost) args() []string {
	a := []string{"--workdir", h.WorkDir, "--name", h.Name}
	add := func(k, v string) { a = append(a, k, v) }
	if h.SocketDir != "" {
		add("--socket-dir", h.SocketDir)
	}
	if h.RTPrio > 0 {
		add("--rt", strconv.Itoa(h.RTPrio))
	}
	if h.MaxProcs > 0 {
		add("--maxprocs", strconv.Itoa(h.MaxProcs))
	}
	if h.Backoff.Base > 0 {
		add("--backoff-base", h.Backoff.Base.String())
	}
	if h.Backoff.Cap > 0 {
		add("--backoff-cap", h.Backoff.Cap.String())
	}
	if h.Backoff.ResetAfter > 0 {
		add("--backoff-reset", h.Backoff.ResetAfter.String())
	}
	if h.QuarantineAfter > 0 {
		add("--quarantine-after", strconv.Itoa(h.QuarantineAfter))
	}
	if h.Grace > 0 {
		add("--grace", h.Grace.String())
	}
	return a
}

// Run hosts the group until ctx ends or a shutdown request; then it stops
// every job and returns.
func (h *GroupHost) Run(ctx context.Context) error {
	h.jobs = map[string]*hjob{}
	h.seq.Store(time.Now().UnixNano())
	h.watchers = map[*watcher]struct{}{}
	h.shutdown = make(chan struct{})
	if h.QuarantineAfter <= 0 {
		h.QuarantineAfter = DefaultQuarantineAfter
	}
	for _, d := range []string{runDir(h.WorkDir), logDir(h.WorkDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("job: group %s: %w", h.Name, err)
		}
	}
	if h.Log == nil {
		lf, err := proc.OpenRotatingFile(groupLogPath(h.WorkDir, h.Name), 0, 0)
		if err != nil {
			return fmt.Errorf("job: group %s: %w", h.Name, err)
		}
		defer lf.Close()
		h.Log = slog.New(slog.NewJSONHandler(lf, nil))
	}
	h.Log = h.Log.With(logging.KeyGroup, h.Name)

	lock, err := os.OpenFile(lockPath(h.WorkDir, h.Name), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("job: group %s: lock: %w", h.Name, err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return fmt.Errorf("job: group %s: another host runs this group: %w", h.Name, err)
	}
	sockDir := h.SocketDir
	if sockDir == "" {
		sockDir = runDir(h.WorkDir)
	}
	if _, err := sockPath(sockDir, h.Name); err != nil {
		return err
	}
	if !currentHost.CompareAndSwap(nil, h) {
		return fmt.Errorf("job: group %s: another group host runs in this process", h.Name)
	}
	defer currentHost.CompareAndSwap(h, nil)
	srv := service.NewServer(service.WithScope(service.ScopeOS), service.WithSocketDir(sockDir),
		service.WithLogger(h.Log), service.WithAllowedUIDs(uint32(os.Getuid()), 0))
	if err := srv.Publish(hostPublisher, hostServiceName(h.Name), hostCall{}); err != nil {
		return fmt.Errorf("job: group %s: publish: %w", h.Name, err)
	}
	srvCtx, srvCancel := context.WithCancel(context.Background())
	srvDone := make(chan struct{})
	go func() {
		defer close(srvDone)
		srv.Serve(srvCtx)
	}()

	if h.MaxProcs > 0 {
		runtime.GOMAXPROCS(h.MaxProcs)
	}
	if h.RTPrio > 0 {
		if err := setRealtime(h.RTPrio); err != nil {
			h.note = fmt.Sprintf("--rt %d not applied (%v); running with normal scheduling", h.RTPrio, err)
			h.Log.Warn("realtime scheduling refused", logging.KeyErr, err)
		}
	}
	// Jobs' wrapper scripts may orphan processes: reap them here.
	var reaper *proc.Reaper
	if err := proc.BecomeSubreaper(); err == nil {
		reaper = &proc.Reaper{Log: h.Log}
		reaper.Start(context.Background())
	}
	h.Log.Info("group host started", logging.KeyPID, os.Getpid())

	select {
	case <-ctx.Done():
	case <-h.shutdown:
	}
	h.Log.Info("group host stopping")
	h.stopAll()
	h.mu.Lock()
	for w := range h.watchers {
		w.close()
	}
	h.mu.Unlock()
	closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	srv.Close(closeCtx)
	cancel()
	srvCancel()
	<-srvDone
	h.wg.Wait()
	h.mu.Lock()
	for _, j := range h.jobs {
		j.closeLog()
	}
	h.mu.Unlock()
	if reaper != nil {
		reaper.Close(context.Background())
	}
	return nil
}

// setRealtime puts every thread of this process under SCHED_RR; threads
// created later inherit it from their creator.
func setRealtime(prio int) error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		attr := &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_RR, Priority: uint32(prio)}
		if err := unix.SchedSetAttr(tid, attr, 0); err != nil {
			return fmt.Errorf("sched_setattr SCHED_RR %d: %w", prio, err)
		}
	}
	return nil
}

func (h *GroupHost) stopAll() {
	h.mu.Lock()
	js := make([]*hjob, 0, len(h.jobs))
	for _, j := range h.jobs {
		js = append(js, j)
	}
	h.mu.Unlock()
	var wg sync.WaitGroup
	for _, j := range js {
		wg.Add(1)
		go func() { defer wg.Done(); j.stop() }()
	}
	wg.Wait()
}

// currentHost is the group host of this process, for hostCall.Handle: the
// service library hands a handler its message and stream, not the server.
// A group host is a process of its own, so one slot is enough; Run refuses
// a second host in the same process.
var currentHost atomic.Pointer[GroupHost]

// serveCall answers one hostCall. Peers were checked by the service
// library (SO_PEERCRED: our own user or root).
func (h *GroupHost) serveCall(s *service.Stream, req request) any {
	switch req.Op {
	case opWatch:
		h.watch(s)
		return nil
	case opAttach:
		h.attach(s, req.ID)
		return nil
	}
	resp := h.handle(req)
	if req.Op == opShutdown && resp.Err == "" {
		// Answer first: the server closes as the host shuts down.
		s.Send(resp)
		h.once.Do(func() { close(h.shutdown) })
		return nil
	}
	return resp
}

func (h *GroupHost) handle(req request) response {
	switch req.Op {
	case opHello:
		return response{Hello: &hello{Name: h.Name, PID: os.Getpid(), RTPrio: h.RTPrio, MaxProcs: h.MaxProcs, Note: h.note, WorkDir: h.WorkDir,
			GOMAXPROCS: runtime.GOMAXPROCS(0), Realtime: h.RTPrio > 0 && h.note == ""}}
	case opList:
		return response{Jobs: h.list()}
	case opRun:
		if req.Spec == nil {
			return errResponse(fmt.Errorf("job: run: no spec: %w", ErrBadSpec))
		}
		st, err := h.run(*req.Spec, req.Prev, req.Want != wantStopped)
		if err != nil {
			return errResponse(err)
		}
		return response{Status: &st}
	case opStop, opStart, opRemove:
		h.mu.Lock()
		j := h.jobs[req.ID]
		h.mu.Unlock()
		if j == nil {
			return errResponse(fmt.Errorf("job: %s %s: %w", req.Op, req.ID, ErrNotFound))
		}
		var err error
		switch req.Op {
		case opStop:
			j.stop()
		case opStart:
			err = j.start()
		case opRemove:
			err = h.remove(j, req.Force)
		}
		if err != nil {
			return errResponse(err)
		}
		st := j.status()
		return response{Status: &st}
	case opShutdown:
		if !req.Force {
			for _, st := range h.list() {
				if st.State.Active() {
					return errResponse(fmt.Errorf("job: kill group %s: job %s is %s: %w", h.Name, st.ID, st.State, ErrGroupBusy))
				}
			}
		}
		return response{}
	}
	return errResponse(fmt.Errorf("job: unknown control op %q", req.Op))
}

func (h *GroupHost) list() []Status {
	h.mu.Lock()
	out := make([]Status, 0, len(h.jobs))
	for _, j := range h.jobs {
		out = append(out, j.status())
	}
	h.mu.Unlock()
	sort.Slice(out, func(a, b int) bool { return out[a].Created.Before(out[b].Created) })
	return out
}

// run creates a job (or replaces a stopped one with the same ID, as a
// resumed job after a group restart) and starts it unless told not to.
func (h *GroupHost) run(spec Spec, prev *Status, start bool) (Status, error) {
	if spec.ID == "" {
		return Status{}, fmt.Errorf("job: run: no id: %w", ErrBadSpec)
	}
	h.mu.Lock()
	if old := h.jobs[spec.ID]; old != nil {
		h.mu.Unlock()
		return old.status(), nil // idempotent: a Manager retrying after a lost reply
	}
	j := &hjob{h: h, st: Status{Spec: spec, State: StateCreated, Created: time.Now()}}
	if prev != nil {
		j.st.Created, j.st.Restarts = prev.Created, prev.Restarts
		j.st.ExitCode, j.st.Ended, j.st.Started = prev.ExitCode, prev.Ended, prev.Started
		j.st.Error, j.st.ModeUsed = prev.Error, prev.ModeUsed
		if prev.State.Terminal() {
			j.st.State = prev.State
		}
		j.st.Note = prev.Note
	}
	spec.Group = h.Name
	j.st.Spec.Group = h.Name
	j.st.Seq = h.seq.Add(1)
	h.jobs[spec.ID] = j
	h.mu.Unlock()
	h.publish(j.status())
	if start && (prev == nil || !prev.State.Terminal()) {
		if err := j.start(); err != nil {
			return j.status(), err
		}
	}
	return j.status(), nil
}

func (h *GroupHost) remove(j *hjob, force bool) error {
	if force {
		j.stop()
	}
	j.mu.Lock()
	busy := j.loopDone != nil
	j.mu.Unlock()
	if busy {
		return fmt.Errorf("job: remove %s: %w (stop it first)", j.st.ID, ErrRunning)
	}
	h.mu.Lock()
	delete(h.jobs, j.st.ID)
	h.mu.Unlock()
	j.closeLog()
	return nil
}

// watcher is one Manager's subscription to status changes. Changes are
// coalesced per job, so a slow reader never blocks a job and always gets
// each job's latest state.
//
// "Latest" is by Status.Seq, not by arrival: a publisher reads or copies a
// job's status before it takes GroupHost.mu to push it, so two publishers
// of one job (the run loop's update and a stop, or a new watcher's
// snapshot and the loop) can push out of order. push keeps the later
// report; an earlier one arriving after it is dropped. (The Manager drops
// reports older than what it has too, so one already sent does no harm.)
type watcher struct {
	mu     sync.Mutex
	dirty  map[string]Status
	order  []string
	notify chan struct{}
	done   chan struct{}
	once   sync.Once
}

func newWatcher() *watcher {
	return &watcher{dirty: map[string]Status{}, notify: make(chan struct{}, 1), done: make(chan struct{})}
}

func (w *watcher) push(st Status) {
	w.mu.Lock()
	if old, ok := w.dirty[st.ID]; !ok {
		w.order = append(w.order, st.ID)
	} else if st.Seq < old.Seq {
		w.mu.Unlock()
		return // a stale report overtaken by a later one: keep the later
	}
	w.dirty[st.ID] = st
	w.mu.Unlock()
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

// take returns the pending reports, in the order their jobs first changed,
// and empties the set.
func (w *watcher) take() []Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	batch := make([]Status, 0, len(w.order))
	for _, id := range w.order {
		batch = append(batch, w.dirty[id])
	}
	w.order = w.order[:0]
	clear(w.dirty)
	return batch
}

func (w *watcher) close() { w.once.Do(func() { close(w.done) }) }

func (h *GroupHost) publish(st Status) {
	h.mu.Lock()
	if h.published != nil {
		h.published(st)
	}
	for w := range h.watchers {
		w.push(st)
	}
	h.mu.Unlock()
}

// subscribe registers a new watcher holding every job as it is now. The
// snapshot is pushed under h.mu, with the registration, so that no publish
// falls between the two.
func (h *GroupHost) subscribe() *watcher {
	w := newWatcher()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.watchers[w] = struct{}{}
	snap := make([]Status, 0, len(h.jobs))
	for _, j := range h.jobs {
		snap = append(snap, j.status())
	}
	sort.Slice(snap, func(a, b int) bool { return snap[a].Created.Before(snap[b].Created) })
	for _, st := range snap {
		w.push(st)
	}
	return w
}

func (h *GroupHost) unsubscribe(w *watcher) {
	h.mu.Lock()
	delete(h.watchers, w)
	h.mu.Unlock()
}

func (h *GroupHost) watch(s *service.Stream) {
	w := h.subscribe()
	defer h.unsubscribe(w)
	// First message: the hello, then every job as it was when subscribed
	// (held by w, sent by the loop below), then every change.
	if err := s.Send(h.handle(request{Op: opHello})); err != nil {
		return
	}
	gone := s.Context().Done() // the Manager closed the stream or went away
	for {
		select {
		case <-w.notify:
		case <-w.done:
			return
		case <-gone:
			return
		}
		batch := w.take()
		for i := range batch {
			if err := s.Send(response{Status: &batch[i]}); err != nil {
				return
			}
		}
	}
}

// hjob is one job inside the host.
type hjob struct {
	h *GroupHost

	mu       sync.Mutex
	st       Status
	stopCh   chan struct{} // closed to stop the current loop
	loopDone chan struct{} // closed when the loop returns; nil when idle
	log      *proc.RotatingFile

	// interactive plumbing
	attachCh chan *attacher // the loop receives the first attacher
	att      *attacher
}

func (j *hjob) status() Status {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.st
}

func (j *hjob) update(f func(st *Status)) {
	j.mu.Lock()
	f(&j.st)
	j.st.Seq = j.h.seq.Add(1)
	st := j.st
	j.mu.Unlock()
	j.h.publish(st)
}

func (j *hjob) closeLog() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.log != nil {
		j.log.Close()
		j.log = nil
	}
}

func (j *hjob) logFile() (*proc.RotatingFile, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.log == nil {
		lf, err := proc.OpenRotatingFile(jobLogPath(j.h.WorkDir, j.st.ID), 0, 0)
		if err != nil {
			return nil, err
		}
		j.log = lf
	}
	return j.log, nil
}

// start begins the job's run loop; a quarantined or ended job starts over.
func (j *hjob) start() error {
	j.mu.Lock()
	if j.loopDone != nil {
		j.mu.Unlock()
		return fmt.Errorf("job: start %s: %w", j.st.ID, ErrRunning)
	}
	j.stopCh = make(chan struct{})
	j.loopDone = make(chan struct{})
	if j.st.Interactive {
		j.attachCh = make(chan *attacher, 1)
	}
	stop, done := j.stopCh, j.loopDone
	j.st.State = StateStarting
	j.st.Error = ""
	j.st.Seq = j.h.seq.Add(1)
	j.mu.Unlock()
	j.h.publish(j.status())
	j.h.wg.Add(1)
	go func() {
		defer j.h.wg.Done()
		defer close(done)
		j.loop(stop)
		j.mu.Lock()
		j.loopDone = nil
		j.st.Seq = j.h.seq.Add(1)
		j.mu.Unlock()
		j.h.publish(j.status())
	}()
	return nil
}

// stop ends the run loop and waits for it.
func (j *hjob) stop() {
	j.mu.Lock()
	stop, done := j.stopCh, j.loopDone
	if done != nil {
		select {
		case <-stop:
		default:
			close(stop)
			j.st.State = StateStopping
			j.st.Seq = j.h.seq.Add(1)
		}
	}
	j.mu.Unlock()
	if done != nil {
		j.h.publish(j.status())
		<-done
	}
}

func (j *hjob) loop(stop <-chan struct{}) {
	h := j.h
	tracker := proc.Tracker{B: h.Backoff}
	resetAfter := h.Backoff.ResetAfter
	if resetAfter <= 0 {
		resetAfter = proc.DefaultBackoff.ResetAfter
	}
	quick := 0
	restarts := 0
	for {
		var att *attacher
		if j.st.Interactive {
			t := time.NewTimer(interactiveWait)
			select {
			case att = <-j.attachCh:
			case <-t.C:
			case <-stop:
			}
			t.Stop()
		}
		select {
		case <-stop:
			j.update(func(st *Status) { st.State = StateStopped })
			return
		default:
		}
		started := time.Now()
		code, res, err := j.runOnce(stop, att)
		uptime := time.Since(started)
		stopped := false
		select {
		case <-stop:
			stopped = true
		default:
		}
		failed := err != nil || code != 0
		// Decide what comes next before telling anyone the run ended, so the
		// status goes straight from running to its next state: a job about to
		// be restarted must never show "failed" or "exited" in between (a
		// watcher, or `warren wait`, would take it for the end).
		restart := !stopped && j.st.Restart.shouldRestart(code, failed, restarts)
		quarantine := false
		if restart {
			if uptime < resetAfter {
				quick++
			} else {
				quick = 0
				tracker.Reset()
			}
			quarantine = quick >= h.QuarantineAfter
		}
		j.update(func(st *Status) {
			st.Ended = time.Now()
			st.ExitCode = code
			st.PID = 0
			if res.ModeUsed != "" {
				st.ModeUsed = res.ModeUsed
			}
			if res.Note != "" {
				st.Note = res.Note
			}
			st.Error = ""
			switch {
			case stopped:
			case err != nil:
				st.Error = err.Error()
			case code != 0:
				st.Error = fmt.Sprintf("exit status %d", code)
			}
			switch {
			case stopped:
				st.State = StateStopped
			case quarantine:
				st.State = StateQuarantined
				st.Note = fmt.Sprintf("crash loop: %d runs in a row ended within %v; start it again by hand", quick, resetAfter)
			case restart:
				st.State = StateBackoff
			case failed:
				st.State = StateFailed
			default:
				st.State = StateExited
			}
		})
		if att != nil {
			msg := ""
			if err != nil && !stopped {
				msg = err.Error()
			}
			att.exit(code, msg)
		}
		if quarantine {
			h.Log.Warn("job quarantined", logging.KeyJob, j.st.ID, "runs", quick)
			return
		}
		if !restart {
			return
		}
		delay := tracker.Failure(uptime)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-stop:
			t.Stop()
			j.update(func(st *Status) { st.State = StateStopped })
			return
		}
		restarts++
		j.update(func(st *Status) { st.Restarts++; st.State = StateStarting })
	}
}

// runOnce runs the program once and returns its exit code.
func (j *hjob) runOnce(stop <-chan struct{}, att *attacher) (int, Result, error) {
	spec := j.status().Spec
	lf, err := j.logFile()
	if err != nil {
		return -1, Result{}, err
	}
	outS, errS := lf.Stream(), lf.Stream()
	defer outS.Close()
	defer errS.Close()
	var stdout, stderr io.Writer = outS, errS
	var stdin io.Reader
	if att != nil {
		stdout = io.MultiWriter(outS, att.writer(false))
		stderr = io.MultiWriter(errS, att.writer(true))
		stdin = att.stdin
	}
	env := append(os.Environ(), spec.Env...)
	if isGoProgram(spec.Path) {
		if j.h.Interp == nil {
			return -1, Result{}, fmt.Errorf("job: run %s: %w", spec.Path, ErrNoInterp)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		j.update(func(st *Status) { st.State = StateRunning; st.Started = time.Now(); st.PID = os.Getpid() })
		type outcome struct {
			res Result
			err error
		}
		ch := make(chan outcome, 1)
		go func() {
			res, err := j.h.Interp.Run(ctx, Program{Path: spec.Path, Args: spec.Args, Env: env, Dir: spec.Dir,
				Stdin: stdin, Stdout: stdout, Stderr: stderr}, spec.Mode)
			ch <- outcome{res, err}
		}()
		select {
		case o := <-ch:
			return o.res.ExitCode, o.res, o.err
		case <-stop:
		}
		// Stopped: the interpreter ends the program at its next
		// instruction, but a goroutine blocked in a native call ends only
		// when that call returns. Do not let it hold the stop forever.
		t := time.NewTimer(j.h.grace())
		defer t.Stop()
		select {
		case o := <-ch:
			return o.res.ExitCode, o.res, o.err
		case <-t.C:
			j.h.Log.Warn("interpreted job did not stop; abandoning its goroutines", logging.KeyJob, spec.ID)
			return -1, Result{}, fmt.Errorf("job: did not stop within %v of cancellation; its goroutines were abandoned", j.h.grace())
		}
	}
	p, err := proc.Start(context.Background(), proc.Spec{Path: spec.Path, Args: spec.Args, Env: env, Dir: spec.Dir,
		Stdin: stdin, Stdout: stdout, Stderr: stderr, Grace: j.h.Grace})
	if err != nil {
		return -1, Result{ModeUsed: Executable}, err
	}
	j.update(func(st *Status) {
		st.State, st.Started, st.PID, st.ModeUsed = StateRunning, time.Now(), p.PID(), Executable
	})
	select {
	case <-p.Done():
	case <-stop:
		p.Stop(context.Background())
	}
	return p.ExitCode(), Result{ModeUsed: Executable}, nil
}
