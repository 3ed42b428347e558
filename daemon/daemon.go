package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/warren-mesh/warren/daemon/api"
	"github.com/warren-mesh/warren/internal/logging"
	"github.com/warren-mesh/warren/job"
	"github.com/warren-mesh/warren/proc"
	"github.com/warren-mesh/warren/service"
)

// Daemon is one warren node bound to a work dir. Set the exported fields, then
// call Start; Close undoes it. A Daemon is not reusable after Close.
type Daemon struct {
	// WorkDir holds the node's state: identity, lock, sockets, logs, jobs.
	// Required; created with mode 0700 if missing.
	WorkDir string
	// Log receives the daemon's log; it is also written as JSON to
	// WORKDIR/logs/daemon.log (what `warren log daemon` shows). Nil: only the file.
	Log *slog.Logger
	// ControlGroup optionally names a Unix group whose members may control the
	// daemon besides its own user and root.
	ControlGroup string
	// NotifySocket is systemd's notification socket ($NOTIFY_SOCKET); READY=1
	// is sent there once the daemon serves. Empty: no notification.
	NotifySocket string
	// Exe is the binary started as `Exe ExeArgs... __group` to host job
	// groups; empty: this process's own executable.
	Exe     string
	ExeArgs []string
	// Backoff paces restarts of jobs and of group processes that die.
	Backoff proc.Backoff
	// Gateway runs the gateway even when WORKDIR/gateway.json does not exist
	// yet, writing the documented default there first. Without it the
	// gateway runs only when that file exists, so several daemons (tests)
	// run side by side without fighting over the default ports.
	Gateway bool

	mu      sync.Mutex
	auth    authorizer
	srv     *service.Server
	jobs    *job.Manager
	gw      *Gateway   // nil: no gateway runs
	gwStart sync.Mutex // serialises starting the gateway on reload
	started time.Time
	nodeID  string
	lock    *instanceLock
	base    *slog.Logger // tees to Log and the log file; parts add their component
	svcLog  *slog.Logger // base without the node attribute, which the service library adds itself
	log     *slog.Logger
	closers []func(context.Context) error // run in reverse order by Close
	closed  bool
}

// Start takes the work dir, loads (or creates) the node identity and starts
// serving. It fails with an error matching ErrAlreadyRunning if another
// daemon holds the work dir.
func (d *Daemon) Start(ctx context.Context) (err error) {
	if d.WorkDir == "" {
		return errors.New("daemon: start: no work dir")
	}
	defer func() {
		if err != nil {
			_ = d.runClosers(context.Background())
			err = fmt.Errorf("daemon: start: %w", err)
		}
	}()
	if d.auth, err = newAuthorizer(d.ControlGroup); err != nil {
		return err
	}
	// With a control group, its members may pass through the work dir
	// (not list it) to the socket directory, which the service library
	// shares with them (WithSocketGroup below).
	if err := ensureDir(d.WorkDir, 0o700); err != nil {
		return fmt.Errorf("work dir: %w", err)
	}
	if err := d.auth.share(d.WorkDir, 0o710); err != nil {
		return fmt.Errorf("work dir: %w", err)
	}
	lk, err := acquireLock(d.WorkDir)
	if err != nil {
		return err
	}
	d.lock = lk
	d.onClose(func(context.Context) error { return lk.release() })

	if err := ensureDir(LogDir(d.WorkDir), 0o700); err != nil {
		return fmt.Errorf("log dir: %w", err)
	}
	if err := d.openLog(); err != nil {
		return err
	}
	if err := d.startReaper(); err != nil {
		return err
	}
	id, err := LoadOrCreateNodeID(d.WorkDir)
	if err != nil {
		return err
	}
	d.nodeID = id
	d.svcLog = d.base
	d.base = d.base.With(logging.KeyNode, id)
	d.log = d.base.With(logging.KeyComponent, "daemon")
	if err := ensureDir(SocketDir(d.WorkDir), 0o700); err != nil {
		return fmt.Errorf("socket dir: %w", err)
	}
	d.started = time.Now()
	if err := d.startJobs(ctx); err != nil {
		return err
	}
	if err := d.startGateway(ctx); err != nil {
		return err
	}
	if err := d.startService(); err != nil {
		return err
	}
	if err := sdNotify(d.NotifySocket, fmt.Sprintf("READY=1\nMAINPID=%d\nSTATUS=serving node %s", os.Getpid(), id)); err != nil {
		d.log.Warn("systemd notification failed", logging.KeyErr, err)
	}
	d.log.Info("daemon started", "workdir", d.WorkDir, logging.KeyPID, os.Getpid())
	return nil
}

// startService publishes {warren, daemon} in OS scope, in the work dir's
// socket directory, and serves it until Close.
func (d *Daemon) startService() error {
	detach, err := api.Attach(d)
	if err != nil {
		return err
	}
	d.onClose(func(context.Context) error { detach(); return nil })
	srv := service.NewServer(
		service.WithScope(service.ScopeOS),
		service.WithSocketDir(SocketDir(d.WorkDir)),
		service.WithProviderID(d.nodeID),
		service.WithLogger(d.svcLog),
		service.WithSocketGroup(d.auth.gid), // -1: private
	)
	if err := srv.Publish(api.Publisher, api.Service, api.KnownMessages()...); err != nil {
		srv.Close(context.Background())
		return err
	}
	d.srv = srv
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background()) }()
	d.onClose(func(ctx context.Context) error {
		err := srv.Close(ctx)
		// Serve may not have begun when Close ran; then it reports the
		// server closed, which is what was asked.
		if serr := <-served; err == nil && !errors.Is(serr, service.ErrServerClosed) {
			err = serr
		}
		return err
	})
	return nil
}

// startReaper makes the daemon a child subreaper and reaps what it inherits:
// on machines whose PID 1 does not reap, orphans of jobs would otherwise
// stay zombies forever.
func (d *Daemon) startReaper() error {
	if err := proc.BecomeSubreaper(); err != nil {
		d.log.Warn("cannot become a child subreaper; orphans of jobs go to PID 1", logging.KeyErr, err)
		return nil
	}
	r := &proc.Reaper{Log: d.log}
	if err := r.Start(context.Background()); err != nil {
		return fmt.Errorf("reaper: %w", err)
	}
	d.onClose(r.Close)
	return nil
}

// Daemon log rotation: big enough for days of normal operation, bounded so
// a chatty failure cannot fill a small board's flash.
const (
	daemonLogMax  = 8 << 20
	daemonLogKeep = 3
)

// openLog opens WORKDIR/logs/daemon.log (size-capped, rotated) and tees the
// daemon's log into it.
func (d *Daemon) openLog() error {
	f, err := proc.OpenRotatingFile(DaemonLogPath(d.WorkDir), daemonLogMax, daemonLogKeep)
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	d.onClose(func(context.Context) error { return f.Close() })
	// The rotating file starts every line with its timestamp (as job logs
	// do), so the handler leaves the time out: `warren log daemon` reads
	// "TIME level=INFO msg=... key=value".
	fh := slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}})
	if d.Log != nil {
		d.base = slog.New(slog.NewMultiHandler(d.Log.Handler(), fh))
	} else {
		d.base = slog.New(fh)
	}
	d.log = d.base.With(logging.KeyComponent, "daemon")
	return nil
}

func (d *Daemon) onClose(f func(context.Context) error) {
	d.mu.Lock()
	d.closers = append(d.closers, f)
	d.mu.Unlock()
}

func (d *Daemon) runClosers(ctx context.Context) error {
	d.mu.Lock()
	cs := d.closers
	d.closers = nil
	d.mu.Unlock()
	var errs []error
	for i := len(cs) - 1; i >= 0; i-- {
		if err := cs[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// NodeID is the node's identity (valid after Start).
func (d *Daemon) NodeID() string { return d.nodeID }

// Uptime is how long the daemon has served.
func (d *Daemon) Uptime() time.Duration { return time.Since(d.started) }

// Close stops serving and releases the work dir. Job groups keep running, to
// be re-adopted by the next daemon on this work dir.
func (d *Daemon) Close(ctx context.Context) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.mu.Unlock()
	if d.log != nil {
		d.log.Info("daemon stopping")
		_ = sdNotify(d.NotifySocket, "STOPPING=1")
	}
	if err := d.runClosers(ctx); err != nil {
		return fmt.Errorf("daemon: close: %w", err)
	}
	return nil
}
