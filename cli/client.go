package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/warren-mesh/warren/daemon"
	"github.com/warren-mesh/warren/daemon/api"
)

// addWorkdirFlag adds --workdir to a command that talks to (or is) a daemon.
func addWorkdirFlag(c *cobra.Command, p *string) {
	c.Flags().StringVar(p, "workdir", "", "work dir of the daemon to use (default $WARREN_WORKDIR, else $XDG_STATE_HOME/warren or ~/.local/state/warren)")
}

// errNoDaemon is what every daemon command says when nothing answers.
type errNoDaemon struct {
	workDir string
	pid     int // a daemon holding the lock but not answering, if any
	cause   error
}

func (e *errNoDaemon) Error() string {
	flag := ""
	if def, err := daemon.ResolveWorkDir(""); err != nil || def != e.workDir {
		flag = " --workdir " + e.workDir
	}
	if e.pid > 0 {
		return fmt.Sprintf("the warren daemon for work dir %s (pid %d) does not answer: %v", e.workDir, e.pid, e.cause)
	}
	return fmt.Sprintf("no warren daemon is running for work dir %s\nstart one with: warren daemon%s", e.workDir, flag)
}

func (e *errNoDaemon) Unwrap() error { return e.cause }

// noDaemonError builds the error for a failed dial, telling a dead work dir
// (start a daemon) from a daemon that holds the lock but does not answer,
// and from one this user may not reach.
func noDaemonError(workDir string, cause error) error {
	if _, err := os.Stat(daemon.SocketDir(workDir)); errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("permission denied: the warren daemon of work dir %s belongs to another user; its owner can let you in with warren daemon --control-group GROUP (you must be a member of GROUP)", workDir)
	}
	e := &errNoDaemon{workDir: workDir, cause: cause}
	if pid, held, err := daemon.ReadLockPID(workDir); err == nil && held {
		e.pid = pid
	}
	return e
}

// daemonConn is the CLI's connection to {warren, daemon}.
type daemonConn struct {
	workDir string
	rpc     rpcConn
}

// rpcConn is the little the CLI needs from the service library's Conn.
type rpcConn interface {
	call(ctx context.Context, req, reply any) error
	stream(ctx context.Context) (rpcStream, error)
	Close() error
}

// rpcStream is one multiplexed stream of a connection.
type rpcStream interface {
	send(ctx context.Context, msg any) error
	recv(ctx context.Context) (any, error)
	Close() error
}

func (d *daemonConn) Close() error { return d.rpc.Close() }

// Call timeouts: a daemon that accepted the connection but does not answer
// (stopped, wedged) must not hang the CLI. Queries answer at once; job
// operations may wait for a stop grace period or a group to start.
const (
	queryTimeout = 5 * time.Second
	opTimeout    = 2 * time.Minute
)

func (d *daemonConn) call(ctx context.Context, req, reply any) error {
	timeout := opTimeout
	switch req.(type) {
	case api.InfoReq, api.PsReq, api.JobListSaveReq:
		timeout = queryTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := d.rpc.call(cctx, req, reply)
	if err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("the warren daemon for work dir %s did not answer within %v", d.workDir, timeout)
	}
	return err
}

// runInteractive runs a job with its stdin and stdout attached: stdin is
// copied to the job as Input messages while Output messages are written to
// stdout, until Exit arrives. It returns the job's exit code.
func (d *daemonConn) runInteractive(ctx context.Context, spec api.JobSpec, stdin io.Reader, stdout io.Writer) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := d.rpc.stream(ctx)
	if err != nil {
		return 0, fmt.Errorf("run: %w", err)
	}
	defer st.Close()
	spec.Interactive = true
	if err := st.send(ctx, api.RunReq{Spec: spec}); err != nil {
		return 0, fmt.Errorf("run: %w", err)
	}
	fctx, fcancel := context.WithTimeout(ctx, opTimeout)
	first, err := st.recv(fctx)
	fcancel()
	if err != nil {
		return 0, fmt.Errorf("run: %w", err)
	}
	if _, ok := first.(api.Job); !ok {
		return 0, fmt.Errorf("run: unexpected reply %T", first)
	}
	if stdin == nil {
		stdin = eofReader{}
	}
	// stdin pump: its goroutine ends when stdin ends or fails; a stdin that
	// never ends (a terminal) is abandoned when the job exits, which is
	// harmless in a CLI that exits next.
	inErr := make(chan error, 1)
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, rerr := stdin.Read(buf)
			if n > 0 {
				if err := st.send(ctx, &api.Input{Data: append([]byte(nil), buf[:n]...)}); err != nil {
					inErr <- err
					return
				}
			}
			if rerr != nil {
				inErr <- st.send(ctx, &api.Input{EOF: true})
				return
			}
		}
	}()
	for {
		m, err := st.recv(ctx)
		if err != nil {
			return 0, fmt.Errorf("run: %w", err)
		}
		switch m := m.(type) {
		case api.Output:
			if _, err := stdout.Write(m.Data); err != nil {
				return 0, fmt.Errorf("run: stdout: %w", err)
			}
		case api.Exit:
			if m.Error != "" {
				return m.Code, errors.New(m.Error)
			}
			return m.Code, nil
		default:
			return 0, fmt.Errorf("run: unexpected message %T", m)
		}
	}
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// streamLog prints a log the daemon streams as Output messages ended by Exit.
func (d *daemonConn) streamLog(ctx context.Context, req api.LogReq, w io.Writer) error {
	st, err := d.rpc.stream(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.send(ctx, req); err != nil {
		return err
	}
	for {
		m, err := st.recv(ctx)
		if err != nil {
			if ctx.Err() != nil && req.Follow {
				return nil // Ctrl-C ends a followed log normally
			}
			return err
		}
		switch m := m.(type) {
		case api.Output:
			if _, err := w.Write(m.Data); err != nil {
				return err
			}
		case api.Exit:
			if m.Error != "" {
				return errors.New(m.Error)
			}
			return nil
		default:
			return fmt.Errorf("unexpected message %T", m)
		}
	}
}

// callDaemon dials the daemon of the work dir named by workdirFlag, sends
// req, decodes the answer into reply and hangs up: the one round trip most
// commands make. Its errors are prefixed with the command's name.
func callDaemon(ctx context.Context, workdirFlag, name string, req, reply any) error {
	dc, err := dialDaemon(ctx, workdirFlag)
	if err != nil {
		return err
	}
	defer dc.Close()
	if err := dc.call(ctx, req, reply); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
