package cli

import (
	"github.com/spf13/cobra"
)

// addWorkdirFlag adds --workdir to a command that talks to (or is) a daemon.
func addWorkdirFlag(c *cobra.Command, p *string) {
	c.Flags().StringVar(p, "workdir", "", "work dir of the daemon to use (default $WARREN_WORKDIR, else $XDG_STATE_HOME/warren or ~/.local/state/warren)")
}
