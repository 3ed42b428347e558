package cli

import (
	"context"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/warren-mesh/warren/daemon"
)

func newDaemonCmd(env *Env) *cobra.Command {
	var (
		workdir      string
		controlGroup string
	)
	c := &cobra.Command{
		Use:   "daemon",
		Short: "Run the node daemon in the foreground",
		Long: `Run the node daemon in the foreground until SIGINT or SIGTERM.

The daemon keeps its state (node identity, jobs, logs, sockets) in the work
dir: --workdir, else $WARREN_WORKDIR, else $XDG_STATE_HOME/warren or
~/.local/state/warren. One daemon runs per work dir; a second one exits at
once naming the first one's PID. Job groups keep running when the daemon
stops and are re-adopted when it starts again.

Under systemd (Type=notify, see contrib/warren.service) the daemon reports
READY=1 once it serves.`,
		Example: `  warren daemon
  warren daemon --workdir /var/lib/warren --control-group warren
  WARREN_WORKDIR=/tmp/node1 warren daemon &
  WARREN_WORKDIR=/tmp/node1 warren info`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			wd, err := daemon.ResolveWorkDir(workdir)
			if err != nil {
				return err
			}
			// The notification socket is systemd's word to the daemon alone:
			// jobs must not inherit it and talk to systemd in its name.
			notify := os.Getenv(daemon.EnvNotifySocket)
			os.Unsetenv(daemon.EnvNotifySocket)
			d := &daemon.Daemon{
				WorkDir:      wd,
				Log:          env.Log,
				ControlGroup: controlGroup,
				NotifySocket: notify,
			}
			ctx := cmd.Context()
			if err := d.Start(ctx); err != nil {
				return err
			}
			<-ctx.Done()
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return d.Close(cctx)
		},
	}
	addWorkdirFlag(c, &workdir)
	c.Flags().StringVar(&controlGroup, "control-group", "", "Unix group whose members may control this daemon (besides its user and root)")
	return c
}
