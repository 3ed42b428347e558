package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/warren-mesh/warren/daemon/api"
	"github.com/warren-mesh/warren/internal/logging"
	"github.com/warren-mesh/warren/job"
	"github.com/warren-mesh/warren/service"
)

func init() {
	// The job model's sentinels cross the socket, so a Go client of
	// {warren, daemon} can test them with errors.Is.
	service.RegisterError(job.ErrNotFound, job.ErrGroupBusy, job.ErrRunning, job.ErrNotRunning,
		job.ErrBadSpec, job.ErrClosed, job.ErrGroupFailed, job.ErrNoInterp)
}

// startJobs starts the job manager: it re-adopts the groups an earlier
// daemon left running.
func (d *Daemon) startJobs(ctx context.Context) error {
	exe := d.Exe
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return fmt.Errorf("jobs: %w", err)
		}
	}
	m := &job.Manager{
		WorkDir: d.WorkDir,
		Exe:     exe,
		ExeArgs: d.ExeArgs,
		Log:     d.base.With(logging.KeyComponent, "job"),
		Backoff: d.Backoff,
	}
	if err := m.Start(ctx); err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	d.jobs = m
	d.onClose(m.Close)
	return nil
}

// serveJobs answers the job requests; ok is false for a request it does not know.
func (d *Daemon) serveJobs(s *service.Stream, peer Peer, req any) (reply any, ok bool) {
	m := d.jobs
	if m == nil {
		return fmt.Errorf("daemon: jobs: %w", api.ErrNoBackend), true
	}
	ctx := s.Context()
	switch r := req.(type) {
	case api.RunReq:
		spec, err := toSpec(r.Spec)
		if err != nil {
			return err, true
		}
		spec.Requester = peer.String()
		st, err := m.Run(ctx, spec)
		if err != nil {
			return err, true
		}
		d.log.Info("job started", logging.KeyJob, st.ID, logging.KeyGroup, st.Group, logging.KeyPeer, spec.Requester)
		if spec.Interactive {
			return d.attach(s, toJob(st)), true
		}
		return toJob(st), true
	case api.PsReq:
		return api.Jobs{Jobs: toJobs(m.List(r.Patterns...))}, true
	case api.StopReq:
		return jobReply(m.StopJob(ctx, r.ID)), true
	case api.StartReq:
		return jobReply(m.StartJobStatus(ctx, r.ID)), true
	case api.RemoveReq:
		return jobReply(m.RemoveJob(ctx, r.ID)), true
	case api.MoveReq:
		return jobReply(m.MoveJob(ctx, r.ID, r.Group)), true
	case api.KillReq:
		groups, err := m.KillGroups(ctx, r.Pattern, r.Force)
		if err != nil {
			return err, true
		}
		return api.Killed{Groups: groups}, true
	case api.LogReq:
		return d.logs(s, r), true
	case api.JobListSaveReq:
		var b bytes.Buffer
		if err := m.SaveJobList(&b); err != nil {
			return err, true
		}
		return api.JobList{YAML: b.Bytes()}, true
	case api.JobListLoadReq:
		before := map[string]bool{}
		for _, j := range m.List() {
			before[j.ID] = true
		}
		if err := m.LoadJobList(ctx, bytes.NewReader(r.YAML)); err != nil {
			return err, true
		}
		var created []job.Status
		for _, j := range m.List() {
			if !before[j.ID] {
				created = append(created, j)
			}
		}
		return api.Jobs{Jobs: toJobs(created)}, true
	}
	return nil, false
}

// jobReply turns a (Status, error) result into a reply. The job package's
// errors already name the operation and the job; the CLI adds its command.
func jobReply(st job.Status, err error) any {
	if err != nil {
		return err
	}
	return toJob(st)
}

// attach runs an interactive job's conversation: the Job reply first, then
// Input messages from the client feed the job's stdin while its output goes
// back as Output messages, and Exit closes it. It returns nil (everything is
// already sent) or the error to send.
func (d *Daemon) attach(s *service.Stream, j api.Job) any {
	ctx := s.Context()
	if err := s.SendContext(ctx, j); err != nil {
		return nil
	}
	pr, pw := io.Pipe()
	pumpCtx, stopPump := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			var in api.Input
			if err := s.RecvContext(pumpCtx, &in); err != nil {
				pw.CloseWithError(err)
				return
			}
			if len(in.Data) > 0 {
				if _, err := pw.Write(in.Data); err != nil {
					return
				}
			}
			if in.EOF {
				pw.Close()
				return
			}
		}
	}()
	code, err := d.jobs.Attach(ctx, j.ID, pr, &streamWriter{ctx: ctx, s: s})
	if ctx.Err() != nil {
		// The client went away (Ctrl-C, a closed terminal): like a shell's
		// SIGHUP, an interactive job does not outlive its terminal.
		sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if _, serr := d.jobs.StopJob(sctx, j.ID); serr != nil && !errors.Is(serr, job.ErrNotRunning) {
			d.log.Warn("stopping a detached interactive job", logging.KeyJob, j.ID, logging.KeyErr, serr)
		}
		cancel()
	}
	stopPump()
	pr.CloseWithError(io.ErrClosedPipe)
	wg.Wait()
	exit := api.Exit{Code: code}
	if err != nil {
		exit.Error = err.Error()
	}
	_ = s.SendContext(ctx, exit)
	return nil
}

// streamWriter sends what is written to it as Output messages.
type streamWriter struct {
	ctx context.Context
	s   *service.Stream
}

func (w *streamWriter) Write(p []byte) (int, error) {
	if err := w.s.SendContext(w.ctx, api.Output{Data: slices.Clone(p)}); err != nil {
		return 0, err
	}
	return len(p), nil
}

// logs streams a log to the client: Output messages, then Exit.
func (d *Daemon) logs(s *service.Stream, r api.LogReq) any {
	ctx := s.Context()
	w := &streamWriter{ctx: ctx, s: s}
	var err error
	if r.Target == "daemon" {
		err = tailFile(ctx, DaemonLogPath(d.WorkDir), r.N, r.Follow, w)
	} else {
		err = d.jobs.Logs(ctx, r.Target, r.N, r.Follow, w)
	}
	if err != nil && !(r.Follow && ctx.Err() != nil) {
		return err
	}
	_ = s.SendContext(ctx, api.Exit{})
	return nil
}

func toSpec(a api.JobSpec) (job.Spec, error) {
	mode, err := job.ParseMode(a.Mode)
	if err != nil {
		return job.Spec{}, fmt.Errorf("%w: %w", api.ErrBadRequest, err)
	}
	rp, err := job.ParseRestartPolicy(a.Restart)
	if err != nil {
		return job.Spec{}, fmt.Errorf("%w: %w", api.ErrBadRequest, err)
	}
	return job.Spec{
		Name: a.Name, Group: a.Group, Path: a.Path, Args: a.Args, Env: a.Env, Dir: a.Dir,
		Mode: mode, Restart: rp, Interactive: a.Interactive, AutoRemove: a.AutoRemove,
		RTPrio: a.RTPrio, MaxProcs: a.MaxProcs,
	}, nil
}

func toJob(s job.Status) api.Job {
	return api.Job{
		ID: s.ID,
		Spec: api.JobSpec{
			Name: s.Name, Group: s.Group, Path: s.Path, Args: s.Args, Env: s.Env, Dir: s.Dir,
			Mode: string(s.Mode), Restart: s.Restart.String(), Interactive: s.Interactive,
			AutoRemove: s.AutoRemove, RTPrio: s.RTPrio, MaxProcs: s.MaxProcs,
		},
		Requester: s.Requester,
		State:     string(s.State),
		PID:       s.PID,
		Created:   s.Created,
		Started:   s.Started,
		Ended:     s.Ended,
		ExitCode:  s.ExitCode,
		Error:     s.Error,
		Restarts:  s.Restarts,
		ModeUsed:  string(s.ModeUsed),
		Note:      s.Note,
	}
}

func toJobs(ss []job.Status) []api.Job {
	out := make([]api.Job, 0, len(ss))
	for _, s := range ss {
		out = append(out, toJob(s))
	}
	return out
}
