package cli

import (
	"context"
	"time"

	"github.com/warren-mesh/warren/daemon"
	"github.com/warren-mesh/warren/daemon/api"
	"github.com/warren-mesh/warren/service"
)

// startupWait is how long the CLI waits for {warren, daemon} to appear when
// a daemon holds the work dir but has not published yet (it is starting).
// With no daemon holding the work dir the CLI fails at once. Either way a
// command with no daemon fails well within 2 s.
const startupWait = 1200 * time.Millisecond

// newServiceClient returns a service client that sees the OS-scope services
// of one work dir (its private socket directory).
func newServiceClient(workDir string, wait time.Duration) *service.Client {
	return service.NewClient(
		service.WithScope(service.ScopeOS),
		service.WithSocketDir(daemon.SocketDir(workDir)),
		service.WithDiscoverTimeout(wait),
	)
}

// dialDaemon connects to the daemon of the work dir the flag (or
// $WARREN_WORKDIR, or the per-user default) names.
func dialDaemon(ctx context.Context, workdirFlag string) (*daemonConn, error) {
	wd, err := daemon.ResolveWorkDir(workdirFlag)
	if err != nil {
		return nil, err
	}
	wait := time.Duration(0)
	if _, held, err := daemon.ReadLockPID(wd); err == nil && held {
		wait = startupWait
	}
	dctx, cancel := context.WithTimeout(ctx, startupWait+300*time.Millisecond)
	defer cancel()
	conn, err := newServiceClient(wd, wait).Discover(dctx, api.Publisher, api.Service)
	if err != nil {
		return nil, noDaemonError(wd, err)
	}
	return &daemonConn{workDir: wd, rpc: svcConn{conn}}, nil
}

// svcConn adapts a service.Conn to rpcConn.
type svcConn struct{ c *service.Conn }

func (s svcConn) call(ctx context.Context, req, reply any) error {
	return s.c.SendRecv(ctx, req, reply)
}
func (s svcConn) Close() error { return s.c.Close() }
func (s svcConn) stream(ctx context.Context) (rpcStream, error) {
	return svcStream{s.c.NewStream()}, nil
}

type svcStream struct{ s *service.Stream }

func (s svcStream) send(ctx context.Context, msg any) error { return s.s.SendContext(ctx, msg) }
func (s svcStream) Close() error                            { return s.s.Close() }
func (s svcStream) recv(ctx context.Context) (any, error) {
	var v any
	if err := s.s.RecvContext(ctx, &v); err != nil {
		return nil, err
	}
	return v, nil
}
