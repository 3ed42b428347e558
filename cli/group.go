package cli

import (
	"context"

	"github.com/spf13/cobra"

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
			return job.GroupMainWith(cmd.Context(), args, interpRunner{}, env.Stderr)
		},
	}
}

// interpRunner adapts job/interp to the job.Interpreter a group host uses.
type interpRunner struct{}

func (interpRunner) Run(ctx context.Context, p job.Program, mode job.Mode) (job.Result, error) {
	res, err := interp.Run(ctx, interp.Program{Path: p.Path, Args: p.Args, Env: p.Env, Dir: p.Dir,
		Stdin: p.Stdin, Stdout: p.Stdout, Stderr: p.Stderr}, interp.Mode(mode))
	return job.Result{ExitCode: res.ExitCode, ModeUsed: job.Mode(res.ModeUsed), Note: res.Note}, err
}
