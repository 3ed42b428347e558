package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/warren-mesh/warren/daemon"
	"github.com/warren-mesh/warren/daemon/api"
	"github.com/warren-mesh/warren/internal/residency"
)

func newDaemonCmd(env *Env) *cobra.Command {
	var (
		workdir      string
		controlGroup string
		gw           bool
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

The daemon embeds the gateway (see "warren gateway --help") when
WORKDIR/gateway.json exists, or with --gateway, which writes the documented
default there on first start (a health route on 127.0.0.1:18080, the admin
API on 127.0.0.1:9800 with its token in WORKDIR/admin.token). A bad gateway
config or a port in use is a fatal start-up error (exit 1). SIGHUP reloads
gateway.json: unchanged routes keep their connections and processes; an
invalid file is refused, logged, and nothing changes; a gateway.json
created while the daemon runs starts the gateway. Stopping the daemon
stops the gateway and its backends; job groups keep running.

Under systemd (Type=notify, see contrib/warren.service) the daemon reports
READY=1 once it serves.`,
		Example: `  warren daemon
  warren daemon --workdir /var/lib/warren --control-group warren
  WARREN_WORKDIR=/tmp/node1 warren daemon &
  WARREN_WORKDIR=/tmp/node1 warren info
  warren daemon --gateway                  # also run the gateway from WORKDIR/gateway.json
  kill -HUP $(pgrep -f 'warren daemon')    # reload the edited gateway.json`,
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
				Gateway:      gw,
			}
			// Catch SIGHUP before starting: its default action would end
			// the daemon if one arrived during start-up.
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			ctx := cmd.Context()
			if err := d.Start(ctx); err != nil {
				return err
			}
			// Start-up is over: drop the mappings of the init-only
			// code and data (about 15 MB of resident set).
			if err := residency.Trim(); err != nil {
				env.Log.Debug("trim resident set", "err", err)
			}
			for done := false; !done; {
				select {
				case <-hup:
					// Refused reloads are logged by the daemon; it
					// keeps serving with the running config.
					_ = d.ReloadGateway()
				case <-ctx.Done():
					done = true
				}
			}
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return d.Close(cctx)
		},
	}
	addWorkdirFlag(c, &workdir)
	c.Flags().StringVar(&controlGroup, "control-group", "", "Unix group whose members may control this daemon (besides its user and root)")
	c.Flags().BoolVar(&gw, "gateway", false, "run the gateway even without WORKDIR/gateway.json (writes the documented default there)")
	return c
}

func newIDCmd(env *Env) *cobra.Command {
	var workdir, output string
	c := &cobra.Command{
		Use:   "id",
		Short: "Print the node ID of the daemon",
		Long:  "Print the daemon's node ID: 12 lowercase hex characters, stable across restarts.",
		Example: `  warren id
  warren id --workdir /tmp/node1 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput("id", output); err != nil {
				return err
			}
			in, err := fetchInfo(cmd.Context(), workdir)
			if err != nil {
				return err
			}
			if output == outJSON {
				return writeJSON(env.Stdout, map[string]string{"node_id": in.NodeID})
			}
			_, err = fmt.Fprintln(env.Stdout, in.NodeID)
			return err
		},
	}
	addWorkdirFlag(c, &workdir)
	addOutputFlag(c, &output)
	return c
}

func newInfoCmd(env *Env) *cobra.Command {
	var workdir, output string
	c := &cobra.Command{
		Use:   "info",
		Short: "Print the daemon's version, node ID, uptime, work dir and build features",
		Example: `  warren info
  warren info -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput("info", output); err != nil {
				return err
			}
			in, err := fetchInfo(cmd.Context(), workdir)
			if err != nil {
				return err
			}
			if in.Gateway.Routes == nil {
				in.Gateway.Routes = []api.GatewayRoute{}
			}
			if output == outJSON {
				return writeJSON(env.Stdout, in)
			}
			commit := in.Commit
			if len(commit) > 12 {
				commit = commit[:12]
			}
			return kv(env.Stdout,
				[2]string{"Node ID", in.NodeID},
				[2]string{"Version", in.Version + " (commit " + commit + ", " + in.GoVersion + ", " + in.Platform + ")"},
				[2]string{"Features", strings.Join(in.Features, ",")},
				[2]string{"PID", strconv.Itoa(in.PID)},
				[2]string{"Started", timeString(in.Started)},
				[2]string{"Uptime", humanDuration(time.Duration(in.UptimeSec * float64(time.Second)))},
				[2]string{"Work dir", in.WorkDir},
				[2]string{"Gateway", gatewaySummary(in.Gateway)},
				[2]string{"Gateway config", in.Gateway.Config},
				[2]string{"Gateway routes", gatewayRoutes(in.Gateway)},
			)
		},
	}
	addWorkdirFlag(c, &workdir)
	addOutputFlag(c, &output)
	return c
}

// gatewaySummary says whether the embedded gateway runs, and where its admin
// API listens.
func gatewaySummary(g api.GatewayInfo) string {
	if !g.Running {
		return "not running"
	}
	if g.Admin != "" {
		return "running (admin " + g.Admin + ")"
	}
	return "running"
}

// gatewayRoutes lists the routes as "LISTEN NAME (PROTOCOL)", comma separated.
func gatewayRoutes(g api.GatewayInfo) string {
	if len(g.Routes) == 0 {
		return "-"
	}
	rs := make([]string, 0, len(g.Routes))
	for _, r := range g.Routes {
		s := r.Listen + " " + r.Protocol
		if r.Name != "" {
			s += " " + r.Name
		}
		if !r.Listening {
			s += " (not listening)"
		}
		rs = append(rs, s)
	}
	return strings.Join(rs, ", ")
}

func fetchInfo(ctx context.Context, workdir string) (api.Info, error) {
	var in api.Info
	dc, err := dialDaemon(ctx, workdir)
	if err != nil {
		return in, err
	}
	defer dc.Close()
	if err := dc.call(ctx, api.InfoReq{}, &in); err != nil {
		return in, fmt.Errorf("info: %w", err)
	}
	return in, nil
}

func newListCmd(env *Env) *cobra.Command {
	var workdir, output, pattern string
	c := &cobra.Command{
		Use:   "list [-s GLOB]",
		Short: "List the services visible from this node",
		Long: `List every visible service: publisher, service name, provider (node ID) and
the scopes it is visible in as the bitmask WLOP (WAN, LAN, OS, Process).
-s filters by a glob on "publisher/service" (a glob without "/" matches
either the publisher or the service).`,
		Example: `  warren list
  warren list -s 'warren/*'
  warren list -s echo -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput("list", output); err != nil {
				return err
			}
			if _, err := path.Match(pattern, ""); err != nil {
				return Usagef("list: bad pattern %q: %v", pattern, err)
			}
			ctx := cmd.Context()
			// Fail like every other command when no daemon runs, rather
			// than print an empty table that looks like a healthy node.
			dc, err := dialDaemon(ctx, workdir)
			if err != nil {
				return err
			}
			defer dc.Close()
			svcs, err := newServiceClient(dc.workDir, 0).List(ctx, pattern)
			if err != nil {
				return fmt.Errorf("list: %w", err)
			}
			if output == outJSON {
				type row struct {
					Publisher string `json:"publisher"`
					Service   string `json:"service"`
					Provider  string `json:"provider"`
					Scopes    string `json:"scopes"`
				}
				rows := []row{}
				for _, s := range svcs {
					rows = append(rows, row{s.Publisher, s.Service, s.ProviderID, s.Scopes.String()})
				}
				return writeJSON(env.Stdout, rows)
			}
			t := newTable("PUBLISHER", "SERVICE", "PROVIDER", "WLOP")
			for _, s := range svcs {
				t.add(s.Publisher, s.Service, s.ProviderID, s.Scopes.String())
			}
			return t.write(env.Stdout)
		},
	}
	c.Flags().StringVarP(&pattern, "service", "s", "", "glob on publisher/service")
	addWorkdirFlag(c, &workdir)
	addOutputFlag(c, &output)
	return c
}
