package cli

import (
	"context"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/warren-mesh/warren/internal/residency"
	"github.com/warren-mesh/warren/job"
	"github.com/warren-mesh/warren/job/interp"
)

// newGroupCmd is the hidden `warren __group` mode: the daemon's job Manager
// starts one such process per job group (see package job). Go programs run
// in it through job/interp.
func newGroupCmd(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:                "__group --workdir DIR --name GROUP [--rt PRIO] [--maxprocs N]",
		Short:              "Host a job group (started by the daemon, not by hand)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			r := interpRunner{trim: newIdleTrimmer(groupTrimIdle, func() { _ = residency.Trim() })}
			defer r.trim.stop()
			return job.GroupMainWith(cmd.Context(), args, r, env.Stderr)
		},
	}
}

// groupTrimIdle is how long a group host goes without starting a job before
// it trims its resident set. A group process starts with its whole binary
// mapped (package residency), which makes its start and its first jobs
// fast; once jobs stop arriving, the mappings they do not use go.
const groupTrimIdle = 10 * time.Second

// idleTrimmer calls trim (residency.Trim) once no job has started for
// idle: after start-up, and again after each later burst of starts.
type idleTrimmer struct {
	mu    sync.Mutex
	timer *time.Timer
	idle  time.Duration
}

func newIdleTrimmer(idle time.Duration, trim func()) *idleTrimmer {
	t := &idleTrimmer{idle: idle}
	t.timer = time.AfterFunc(idle, trim)
	return t
}

// started notes a job start: the countdown begins again.
func (t *idleTrimmer) started() {
	t.mu.Lock()
	t.timer.Reset(t.idle)
	t.mu.Unlock()
}

func (t *idleTrimmer) stop() {
	t.mu.Lock()
	t.timer.Stop()
	t.mu.Unlock()
}

// interpRunner adapts job/interp to the job.Interpreter a group host uses.
type interpRunner struct{ trim *idleTrimmer }

func (r interpRunner) Run(ctx context.Context, p job.Program, mode job.Mode) (job.Result, error) {
	r.trim.started()
	res, err := interp.Run(ctx, interp.Program{Path: p.Path, Args: p.Args, Env: p.Env, Dir: p.Dir,
		Stdin: p.Stdin, Stdout: p.Stdout, Stderr: p.Stderr}, interp.Mode(mode))
	return job.Result{ExitCode: res.ExitCode, ModeUsed: job.Mode(res.ModeUsed), Note: res.Note}, err
}
