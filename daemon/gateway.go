package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/warren-mesh/warren/daemon/api"
	"github.com/warren-mesh/warren/gateway"
	"github.com/warren-mesh/warren/gateway/admin"
	"github.com/warren-mesh/warren/gateway/config"
	"github.com/warren-mesh/warren/gateway/metrics"
	"github.com/warren-mesh/warren/internal/buildinfo"
	"github.com/warren-mesh/warren/internal/logging"
)

// GatewayConfigName is the gateway's config file in the work dir: the daemon
// runs a gateway when it exists (or when Daemon.Gateway asks for one).
const GatewayConfigName = "gateway.json"

// GatewayConfigPath is WORKDIR/gateway.json.
func GatewayConfigPath(workDir string) string {
	return filepath.Join(workDir, GatewayConfigName)
}

// gatewayShutdownGrace bounds how long a stopping gateway drains its routes
// and stops its backends (SIGTERM, then SIGKILL to each process group).
const gatewayShutdownGrace = 15 * time.Second

// Gateway is a gateway engine run from a config file together with its admin
// API and Prometheus metrics: what `warren daemon` embeds. Set the fields,
// then Start; ReloadFromFile applies the edited file; Close stops it all.
type Gateway struct {
	// ConfigPath is the config file. Required.
	ConfigPath string
	// Create writes the documented default config at ConfigPath when no
	// file is there; without it a missing file is an error.
	Create bool
	// ID identifies the gateway in loop detection (the daemon passes its
	// node ID); empty: random.
	ID string
	// HealthExtra adds fields to /healthz.
	HealthExtra func() map[string]any
	// Log receives the gateway's log. Nil: discarded.
	Log *slog.Logger

	mu  sync.Mutex // serialises Start, ReloadFromFile and Close
	rec runningRecord
	eng *gateway.Engine
	adm *admin.Server
	set *metrics.Set
	log *slog.Logger
}

// controller adapts the engine to the admin API: Status as any, and the
// metrics of removed routes forgotten on reload.
type controller struct {
	*gateway.Engine
	metrics *metrics.Set
}

func (c controller) Status() any { return c.Engine.Status() }

func (c controller) Reload(cfg config.Config) error {
	return c.apply(cfg, config.Compare(c.Engine.Config(), cfg))
}

// apply reloads cfg, whose difference to the running config is d.
func (c controller) apply(cfg config.Config, d config.Diff) error {
	if err := c.Engine.Reload(cfg); err != nil {
		return err
	}
	for _, p := range d.Removed {
		c.metrics.Forget(p)
	}
	return nil
}

// Start loads the config (strictly: an error names the file and the field),
// opens every route and the admin API. A port in use fails Start with the
// route named; nothing stays open.
func (g *Gateway) Start(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.eng != nil {
		return errors.New("gateway: start: already started")
	}
	base := g.Log
	if base == nil {
		base = slog.New(slog.DiscardHandler)
	}
	// The engine adds its component itself.
	g.log = base.With(logging.KeyComponent, "gateway")
	var (
		cfg     config.Config
		created bool
		err     error
	)
	if g.Create {
		cfg, created, err = config.LoadOrCreate(g.ConfigPath)
	} else {
		cfg, err = config.Load(g.ConfigPath)
	}
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	if created {
		g.log.Info("wrote the documented default gateway config", "path", g.ConfigPath)
	}
	token := ""
	if cfg.Normalized().Admin.Auth == config.AuthToken {
		tp := admin.TokenPath(cfg, g.ConfigPath)
		tok, created, err := admin.LoadOrCreateToken(tp)
		if err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
		if created {
			g.log.Info("created the gateway admin API token", "path", tp)
		}
		token = tok
	}
	g.rec.init(g.ConfigPath, g.log)
	g.clearLeftovers()
	set := metrics.New(metrics.Options{})
	eng, err := gateway.New(cfg, gateway.Options{
		Log: base, Metrics: set, ID: g.ID, HealthExtra: g.HealthExtra,
		Version:         buildinfo.Get().Version,
		OnProcessGroups: g.rec.setGroups,
		BackendEnv:      g.rec.backendEnv(),
	})
	// The engine's errors begin "gateway: " already; the file goes last.
	if err != nil {
		return fmt.Errorf("%w (config %s)", err, g.ConfigPath)
	}
	if err := eng.Start(ctx); err != nil {
		return fmt.Errorf("%w (config %s)", err, g.ConfigPath)
	}
	ctl := controller{Engine: eng, metrics: set}
	adm := &admin.Server{
		Controller: ctl,
		Listen:     cfg.AdminListen(),
		Token:      token,
		ConfigPath: g.ConfigPath,
		Metrics:    set.Handler(),
		Health:     eng.HealthHandler(),
		Log:        g.log,
	}
	if err := adm.Start(ctx); err != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), gatewayShutdownGrace)
		defer cancel()
		_ = eng.Shutdown(sctx)
		return fmt.Errorf("gateway: %w (the admin API's address: dashboard_host/dashboard_port or admin.listen in %s)", err, g.ConfigPath)
	}
	g.eng, g.adm, g.set = eng, adm, set
	g.rec.start(cfg.AdminListen())
	g.log.Info("gateway serving", "config", g.ConfigPath, "routes", cfg.Ports(), "admin", adm.URL())
	g.warnMissingCommands(cfg)
	return nil
}

// ReloadFromFile applies the config file as it is now (SIGHUP). An
// unreadable or invalid file is refused with its reason and the running
// config stays; an identical one is a no-op.
func (g *Gateway) ReloadFromFile() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.eng == nil {
		return errors.New("gateway: reload: not running")
	}
	cfg, err := config.Load(g.ConfigPath)
	if err != nil {
		return fmt.Errorf("gateway: reload: %w", err)
	}
	old := g.eng.Config()
	d := config.Compare(old, cfg)
	if d.Empty() {
		g.log.Info("gateway reload: config unchanged", "config", g.ConfigPath)
		return nil
	}
	if err := (controller{Engine: g.eng, metrics: g.set}).apply(cfg, d); err != nil {
		return fmt.Errorf("gateway: reload: %s: %w", g.ConfigPath, err)
	}
	if cfg.AdminListen() != old.AdminListen() {
		g.log.Warn("admin listen address changed: the admin API moves at the next start (warren gateway commands still find it)", "listen", old.AdminListen())
	}
	// The engine logs the reload itself ("gateway reloaded", what changed).
	g.log.Debug("gateway config file applied", "config", g.ConfigPath, "unchanged", len(d.Unchanged))
	g.warnMissingCommands(cfg)
	return nil
}

// warnMissingCommands logs each backend whose program cannot be found: the
// config is valid (it may be installed later), but until it is, every
// request to its route fails with 502, which the log should say up front.
func (g *Gateway) warnMissingCommands(cfg config.Config) {
	dir, _ := os.Getwd()
	for _, p := range config.MissingCommands(cfg, dir) {
		g.log.Warn("backend program not found: its route answers 502 until it is installed",
			"field", p.Path, "problem", p.Msg, "config", g.ConfigPath)
	}
}

// Info describes the gateway for `warren info`.
func (g *Gateway) Info() api.GatewayInfo {
	g.mu.Lock()
	eng, adm := g.eng, g.adm
	g.mu.Unlock()
	in := api.GatewayInfo{Config: g.ConfigPath}
	if eng == nil {
		return in
	}
	st := eng.Status()
	in.Running = st.Running
	in.Admin = adm.URL()
	for _, r := range st.Routes {
		in.Routes = append(in.Routes, api.GatewayRoute{
			Port: r.Port, Name: r.Name, Protocol: r.Protocol, Listen: r.Listen,
			Listening: r.Listening, Backends: len(r.Backends),
		})
	}
	return in
}

// Close stops the admin API and the engine: listeners close, connections
// drain, every backend process group is stopped (SIGTERM, then SIGKILL).
func (g *Gateway) Close(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.eng == nil {
		return nil
	}
	g.log.Info("gateway stopping")
	ctx, cancel := context.WithTimeout(ctx, gatewayShutdownGrace)
	defer cancel()
	aerr := g.adm.Close(ctx)
	eerr := g.eng.Shutdown(ctx)
	// Removed only now: killed during a slow stop, the gateway leaves a
	// record for the next start to clear its backends' leftovers.
	g.rec.stop()
	g.eng, g.adm = nil, nil
	if err := errors.Join(aerr, eerr); err != nil {
		return fmt.Errorf("gateway: close: %w", err)
	}
	return nil
}

// startGateway runs the gateway when WORKDIR/gateway.json exists or
// d.Gateway asks for one (writing the documented default on first start).
func (d *Daemon) startGateway(ctx context.Context) error {
	path := GatewayConfigPath(d.WorkDir)
	if !d.Gateway && !fileExists(path) {
		return nil
	}
	g := &Gateway{
		ConfigPath: path,
		Create:     d.Gateway,
		ID:         d.nodeID,
		Log:        d.base,
		HealthExtra: func() map[string]any {
			return map[string]any{"node_id": d.nodeID}
		},
	}
	if err := g.Start(ctx); err != nil {
		return err
	}
	d.mu.Lock()
	if d.closed {
		// A SIGHUP-started gateway racing Close: the closers have run.
		d.mu.Unlock()
		return errors.Join(errors.New("gateway: start: daemon closed"), g.Close(context.WithoutCancel(ctx)))
	}
	d.gw = g
	d.closers = append(d.closers, g.Close)
	d.mu.Unlock()
	return nil
}

// ReloadGateway reloads the gateway config from WORKDIR/gateway.json
// (SIGHUP). An invalid file is refused, logged, and changes nothing. When no
// gateway runs yet and the file now exists, the gateway starts (a failure is
// logged and returned; the daemon keeps serving).
func (d *Daemon) ReloadGateway() error {
	d.gwStart.Lock()
	defer d.gwStart.Unlock()
	d.mu.Lock()
	g := d.gw
	d.mu.Unlock()
	if g == nil {
		path := GatewayConfigPath(d.WorkDir)
		if !fileExists(path) {
			d.log.Info("reload: no gateway runs (create " + path + " or start with --gateway)")
			return nil
		}
		if err := d.startGateway(context.Background()); err != nil {
			d.log.Error("gateway start on reload failed; no gateway runs", logging.KeyErr, err)
			return err
		}
		return nil
	}
	if err := g.ReloadFromFile(); err != nil {
		d.log.Error("gateway reload refused; the running config stays", logging.KeyErr, err)
		return err
	}
	return nil
}

func (d *Daemon) gatewayInfo() api.GatewayInfo {
	d.mu.Lock()
	g := d.gw
	d.mu.Unlock()
	if g == nil {
		return api.GatewayInfo{Config: GatewayConfigPath(d.WorkDir)}
	}
	return g.Info()
}

// fileExists is false only when nothing is at path: a file we may not read
// counts, so that loading it fails with the reason instead of the gateway
// silently not running.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}
