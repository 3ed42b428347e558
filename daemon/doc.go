// Package daemon is warren's composition root: it turns a work dir into a
// running node. It owns the node's identity (a 12-hex-character node ID
// persisted in the work dir), the single-instance lock (one daemon per work
// dir, enforced with flock so a killed daemon never blocks the next), the
// private socket directory where OS-scope services of this node live, the
// daemon's log file, child-subreaper duty (reaping orphans, since PID 1 may
// not), the builtin {warren, daemon} service through which the CLI drives
// the job manager, and systemd readiness (sd_notify READY=1).
//
// Usage:
//
//	d := &daemon.Daemon{WorkDir: dir, Log: logger}
//	if err := d.Start(ctx); err != nil { ... } // fails with ErrAlreadyRunning if dir is taken
//	<-ctx.Done()
//	err := d.Close(context.Background())
//
// Close stops serving and releases the lock but leaves the job groups
// running: a restarted daemon re-adopts them.
//
// The daemon embeds the gateway (package gateway) when WORKDIR/gateway.json
// exists or Daemon.Gateway is set (which writes the documented default
// first). Gateway is the reusable wiring of engine, admin API and metrics
// around a config file; ReloadGateway applies the edited file (SIGHUP), and
// Close stops the gateway with its backends. A bad config or a port in use
// fails Start.
//
// The request and reply messages of {warren, daemon} are in daemon/api, shared
// with the CLI. Every handler checks the caller's peer credentials: only the
// daemon's own user, root, and members of Daemon.ControlGroup may call it.
package daemon
