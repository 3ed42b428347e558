package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/warren-mesh/warren/daemon"
	"github.com/warren-mesh/warren/gateway/config"
	"github.com/warren-mesh/warren/gateway/launch"
	"github.com/warren-mesh/warren/internal/logging"
	"github.com/warren-mesh/warren/proc"
)

// defaultGatewayConfig is $XDG_CONFIG_HOME/warren/gateway.json (or ~/.config/...).
func defaultGatewayConfig() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("gateway: no config directory (set --config or $XDG_CONFIG_HOME): %w", err)
	}
	return filepath.Join(dir, "warren", "gateway.json"), nil
}

func newGatewayCmd(env *Env) *cobra.Command {
	var cfgPath string
	c := &cobra.Command{
		Use:   "gateway",
		Short: "Run the HTTP/TCP/stdio gateway in the foreground",
		Long: `Run the gateway in the foreground until SIGINT or SIGTERM (it then waits up to
15s for requests in flight; a second signal stops it at once). Requests cut by
that stop are logged; the exit status is still 0.

The gateway owns public ports (routes), starts each route's backend on the
first request, forwards HTTP, TCP and stdio traffic to it, and stops idle
backends. It reads GopherMesh's config.json unchanged, plus warren's own
optional fields (see README "Configuration"). A tcp route with "handoff":
true gives its listening socket to its program instead (fd 3, systemd's
LISTEN_FDS): the gateway starts and stops the program but leaves the data path.

--config defaults to $XDG_CONFIG_HOME/warren/gateway.json. When the file does
not exist, a documented default is written there first (one health route on
127.0.0.1:18080, the admin API on 127.0.0.1:9800).

The admin API (status, logs, kill, config) listens on dashboard_host:
dashboard_port (or admin.listen) and needs the bearer token that is created
at first start in admin.token next to the config file (mode 0600).

SIGHUP reloads the config file: unchanged routes keep their listeners,
connections and processes; an invalid file is refused and the running
config stays. A bad config or a port in use at start exits with status 1.`,
		Example: `  warren gateway
  warren gateway --config ./gateway.json
  warren gateway status                     # routes and backend states of the running gateway
  warren gateway reload                     # apply the edited file (or: kill -HUP <pid>)
  curl -H "Authorization: Bearer $(cat ~/.config/warren/admin.token)" http://127.0.0.1:9800/status`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := gatewayConfigPath(cfgPath)
			if err != nil {
				return err
			}
			return runGateway(cmd.Context(), env, path)
		},
	}
	c.PersistentFlags().StringVar(&cfgPath, "config", "", "config file (default $XDG_CONFIG_HOME/warren/gateway.json)")
	c.AddCommand(newGatewayValidateCmd(env), newGatewayLaunchCmd(env, &cfgPath))
	c.AddCommand(gatewayAdminCmds(env, &cfgPath)...)
	return c
}

func gatewayConfigPath(flag string) (string, error) {
	if flag != "" {
		return filepath.Abs(flag)
	}
	return defaultGatewayConfig()
}

// runGateway is `warren gateway`: the same gateway (engine, admin API,
// metrics, token) that `warren daemon` embeds, run alone in the foreground
// until ctx ends. SIGHUP reloads the file.
func runGateway(ctx context.Context, env *Env, path string) error {
	log := env.Log.With(logging.KeyComponent, "gateway")
	// Catch SIGHUP first: its default action would end the process if one
	// arrived while we start.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	// SIGINT and SIGTERM also come here, from the start, so that a second
	// one sent right after the first is not lost before the drain below
	// listens.
	again := make(chan os.Signal, 2)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(again)
	// Orphans of backends (daemonising wrappers) come to us, not PID 1.
	if err := proc.BecomeSubreaper(); err != nil {
		log.Warn("cannot become a child subreaper; orphans of backends go to PID 1", logging.KeyErr, err)
	} else {
		r := &proc.Reaper{Log: log}
		if err := r.Start(ctx); err == nil {
			defer r.Close(context.Background())
		}
	}
	g := &daemon.Gateway{ConfigPath: path, Create: true, Log: env.Log}
	if err := g.Start(ctx); err != nil {
		return err
	}
	for {
		select {
		case <-hup:
			if err := g.ReloadFromFile(); err != nil {
				log.Error("reload refused; the running config stays", logging.KeyErr, err)
			}
			continue
		case <-ctx.Done():
		}
		break
	}
	// The first SIGINT or SIGTERM ended ctx: the gateway drains requests in
	// flight (up to its shutdown grace). A second one cuts that wait short,
	// as a user pressing Ctrl-C again expects; backends are stopped either way.
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	// The signal that ended ctx comes to again as well (now or soon): the
	// next one is the second. A ctx ended by its caller needs one.
	need := 1
	var intr Interrupted
	if errors.As(context.Cause(ctx), &intr) {
		need = 2
	}
	go func() {
		for n := 0; ; {
			select {
			case s := <-again:
				if n++; n < need {
					continue
				}
				log.Warn("second signal: stopping now, without waiting for requests in flight", "signal", s.String())
				cancel()
				return
			case <-cctx.Done():
				return
			}
		}
	}()
	err := g.Close(cctx)
	if onlyCut(err) {
		// Requests still running when the grace ran out (or a second
		// signal came) were cut: the stop that was asked for, not a
		// failure (a service manager would record one for exit 1).
		log.Warn("requests in flight were cut at shutdown", logging.KeyErr, err)
		return nil
	}
	return err
}

// onlyCut reports whether every failure in err (a tree of wrapped and
// joined errors) is a context's end: requests cut at shutdown, and nothing
// else. A close that also failed in another way (a backend that would not
// stop) is a failure to report, even when it comes joined with a cut.
func onlyCut(err error) bool {
	switch e := err.(type) {
	case nil:
		return false
	case interface{ Unwrap() []error }:
		for _, c := range e.Unwrap() {
			if c != nil && !onlyCut(c) {
				return false
			}
		}
		return true
	case interface{ Unwrap() error }:
		if c := e.Unwrap(); c != nil {
			return onlyCut(c)
		}
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

func newGatewayValidateCmd(env *Env) *cobra.Command {
	var effective bool
	c := &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a gateway config file without running it",
		Long: `Check a gateway config file (GopherMesh's config.json, or warren's with its
additions) strictly: unknown fields, wrong types, unknown protocols and
policies, duplicate ports, routes without backends and routing loops are
errors naming the field path, every one in the file listed. Exits 0 when
valid, 1 otherwise. FILE "-" reads standard input.

A backend program that cannot be found from here (a name not on $PATH, a
path that does not exist or is not executable; relative paths from the
backend's cwd or the current directory) is a warning on stderr, not an
error: it may be installed before the first request.`,
		Example: `  warren gateway validate ~/.config/warren/gateway.json
  warren gateway validate gophermesh/config.json
  warren gateway validate --effective gateway.json   # print it with every default filled in
  cat gateway.json | warren gateway validate -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var data []byte
			var err error
			name := args[0]
			if name == "-" {
				data, err = io.ReadAll(io.LimitReader(env.Stdin, config.MaxSize+1))
				name = "<stdin>"
			} else {
				data, err = os.ReadFile(name)
			}
			if err != nil {
				return &ExitError{Code: 1, Err: fmt.Errorf("gateway validate: %w", err)}
			}
			cfg, err := config.Decode(data)
			if err != nil {
				return &ExitError{Code: 1, Err: fmt.Errorf("%s: invalid:\n%w", name, err)}
			}
			n := cfg.Normalized()
			if effective {
				data, err := config.Marshal(n)
				if err != nil {
					return err
				}
				_, err = env.Stdout.Write(data)
				return err
			}
			fmt.Fprintf(env.Stdout, "%s: valid, %d route(s)\n", name, len(n.Routes))
			// Valid, but a program that is not there fails every request.
			wd, _ := os.Getwd()
			for _, p := range config.MissingCommands(cfg, wd) {
				fmt.Fprintf(env.Stderr, "warning: %v\n", p)
			}
			// Columns sized to their widest cell: "127.0.0.1:18080" and a
			// long route name used to push their line's columns out of line.
			tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
			for _, p := range n.Ports() {
				r := n.Routes[p]
				proto := r.Protocol
				if proto == config.ProtocolStdio {
					proto += "/" + r.StdioMode
				}
				if r.Handoff {
					proto += "/handoff"
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%d backend(s)\t%s\n", r.ListenAddr(p), proto, r.Name, len(r.Backends), r.LoadBalance)
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVar(&effective, "effective", false, "print the config as JSON with every default filled in")
	return c
}

func newGatewayLaunchCmd(env *Env, cfgPath *string) *cobra.Command {
	var register bool
	c := &cobra.Command{
		Use:   "launch [URL]",
		Short: "Handle a warren://launch URL: start the gateway if it is not running",
		Long: `Handle a warren://launch?port=PORT&conf=FILE URL, as a desktop does when a
link is clicked: start the gateway in the background unless one already
answers on the config's admin address, check that PORT is one of its routes,
and print the route's URL.

conf is accepted only inside the config directory (the directory of
--config); symbolic links are resolved before the check, so a link cannot
point a launch at a config elsewhere. The started gateway logs to
gateway.log next to its config.

--register installs the handler: a desktop entry in
$XDG_DATA_HOME/applications, made the default for warren:// with xdg-mime
where it is installed.`,
		Example: `  warren gateway launch --register
  warren gateway launch 'warren://launch'
  warren gateway launch 'warren://launch?port=18080'
  warren gateway launch 'warren://launch?port=8080&conf=work.json'`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("gateway launch: %w", err)
			}
			if register {
				apps, err := applicationsDir()
				if err != nil {
					return err
				}
				path, xdg, err := launch.Register(ctx, apps, exe)
				if err != nil {
					return err
				}
				if xdg {
					fmt.Fprintf(env.Stdout, "registered %s as the warren:// handler (xdg-mime)\n", path)
				} else {
					fmt.Fprintf(env.Stdout, "wrote %s; xdg-mime is not installed, so register it with your desktop by hand\n", path)
				}
				if len(args) == 0 {
					return nil
				}
			}
			if len(args) == 0 {
				return Usagef("gateway launch: want a warren://launch URL (or --register)")
			}
			req, err := launch.Parse(args[0])
			if err != nil {
				return Usagef("gateway launch: %v", err)
			}
			def, err := gatewayConfigPath(*cfgPath)
			if err != nil {
				return err
			}
			var path string
			var cfg config.Config
			if req.Conf == "" {
				path = def
				cfg, _, err = config.LoadOrCreate(path)
			} else {
				path, err = launch.ResolveConf(def, req.Conf)
				if err == nil {
					cfg, err = config.Load(path)
				}
			}
			if err != nil {
				return fmt.Errorf("gateway launch: %w", err)
			}
			if err := launch.ValidatePort(cfg, req.Port); err != nil {
				return err
			}
			pid, err := launch.Ensure(ctx, cfg, launch.StartOptions{
				Exe:     exe,
				Args:    []string{"gateway", "--config", path},
				LogFile: filepath.Join(filepath.Dir(path), "gateway.log"),
			})
			if err != nil {
				return err
			}
			if pid == 0 {
				fmt.Fprintf(env.Stdout, "gateway already running (admin %s)\n", cfg.AdminListen())
			} else {
				fmt.Fprintf(env.Stdout, "gateway started (pid %d, config %s)\n", pid, path)
			}
			if req.Port != "" {
				fmt.Fprintln(env.Stdout, launch.RouteURL(cfg, req.Port))
			}
			return nil
		},
	}
	c.Flags().BoolVar(&register, "register", false, "register this binary as the desktop's warren:// URL handler")
	return c
}

func applicationsDir() (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "applications"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("gateway launch: no home directory: %w", err)
	}
	return filepath.Join(home, ".local", "share", "applications"), nil
}
