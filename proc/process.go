package proc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultGrace is the SIGTERM -> SIGKILL delay when Spec.Grace is zero.
const DefaultGrace = 5 * time.Second

// ErrDone is returned by Signal when the process has already ended.
var ErrDone = errors.New("proc: process already finished")

// Rlimit is one resource limit applied with prlimit(2) right after start.
type Rlimit struct {
	Resource int // unix.RLIMIT_NOFILE, unix.RLIMIT_AS, ...
	Cur, Max uint64
}

// Spec describes a process to start.
type Spec struct {
	Path string   // program; looked up in PATH when it has no slash
	Args []string // arguments after the program name
	Env  []string // nil = inherit this process's environment
	Dir  string   // working directory; "" = this process's

	// Standard streams; nil means /dev/null. An *os.File is handed to the
	// child directly; any other value is copied through a pipe. Done waits
	// for Stdout and Stderr to be copied, but not for Stdin: the goroutine
	// feeding a non-file Stdin ends when Stdin returns EOF or an error, or
	// at its first write after the process has ended.
	Stdin          io.Reader
	Stdout, Stderr io.Writer

	Grace   time.Duration // SIGTERM -> SIGKILL delay; 0 = DefaultGrace
	Rlimits []Rlimit      // applied with prlimit right after start

	// NoDeathSignal leaves out Pdeathsig=SIGKILL. Use it for processes that
	// must outlive this one (job groups surviving a daemon restart); they
	// are then also put in a session of their own.
	NoDeathSignal bool

	ExtraFiles []*os.File // become fds 3, 4, ... in the child

	// WaitDelay bounds how long Done waits for output copying after the
	// group has ended (a descendant that escaped the group may hold the
	// pipe open). 0 = 2s.
	WaitDelay time.Duration
}

// Process is a started process and its process group (the group ID is the
// pid). Its methods are safe for concurrent use.
type Process struct {
	cmd   *exec.Cmd
	pid   int
	grace time.Duration

	done chan struct{}
	mu   sync.Mutex
	// stopAt is set by the first Stop; the waiter uses it to give members
	// left behind by the leader the rest of the grace period.
	stopAt   time.Time
	exitCode int
	err      error
}

// Start starts s.Path in its own process group and returns at once.
// ctx bounds the whole life of the process: when ctx is done the group is
// stopped as by Stop. Pass context.Background() for a process that lives
// until Stop is called.
func Start(ctx context.Context, s Spec) (*Process, error) {
	if s.Path == "" {
		return nil, errors.New("proc: start: empty path")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("proc: start %s: %w", s.Path, err)
	}
	cmd := exec.Command(s.Path, s.Args...)
	cmd.Env = s.Env
	cmd.Dir = s.Dir
	// A non-file Stdin is copied by our own goroutine rather than by
	// os/exec's, so that Done does not wait for a reader that may never
	// return (an interactive client that types nothing).
	var stdinR, stdinW *os.File
	if s.Stdin != nil {
		if f, ok := s.Stdin.(*os.File); ok {
			cmd.Stdin = f
		} else {
			var err error
			if stdinR, stdinW, err = os.Pipe(); err != nil {
				return nil, fmt.Errorf("proc: start %s: stdin pipe: %w", s.Path, err)
			}
			cmd.Stdin = stdinR
		}
	}
	cmd.Stdout = s.Stdout
	cmd.Stderr = s.Stderr
	cmd.ExtraFiles = s.ExtraFiles
	cmd.WaitDelay = s.WaitDelay
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = 2 * time.Second
	}
	attr := &syscall.SysProcAttr{}
	if s.NoDeathSignal {
		// Its own session (and so its own process group, pgid = pid):
		// no terminal signal or group kill aimed at us reaches it.
		attr.Setsid = true
	} else {
		attr.Setpgid = true
		attr.Pdeathsig = syscall.SIGKILL
	}
	cmd.SysProcAttr = attr

	p := &Process{cmd: cmd, grace: s.Grace, done: make(chan struct{})}
	if p.grace <= 0 {
		p.grace = DefaultGrace
	}

	registry.forkLock.RLock()
	err := cmd.Start()
	if err == nil {
		p.pid = cmd.Process.Pid
		register(p.pid)
	}
	registry.forkLock.RUnlock()
	if stdinR != nil {
		stdinR.Close()
	}
	if err != nil {
		if stdinW != nil {
			stdinW.Close()
		}
		return nil, fmt.Errorf("proc: start %s: %w", s.Path, err)
	}
	if stdinW != nil {
		// Ends when Stdin returns EOF or an error, or at the first write
		// after the process closed its stdin or ended.
		go func() {
			io.Copy(stdinW, s.Stdin)
			stdinW.Close()
		}()
	}

	for _, rl := range s.Rlimits {
		lim := unix.Rlimit{Cur: rl.Cur, Max: rl.Max}
		if err := unix.Prlimit(p.pid, rl.Resource, &lim, nil); err != nil {
			_ = syscall.Kill(-p.pid, syscall.SIGKILL)
			p.wait()
			return nil, fmt.Errorf("proc: start %s: prlimit %d: %w", s.Path, rl.Resource, err)
		}
	}

	go p.wait()
	if ctx.Done() != nil {
		go func() {
			select {
			case <-ctx.Done():
				_ = p.Stop(context.Background())
			case <-p.done:
			}
		}()
	}
	return p, nil
}

// PID returns the process ID, which is also its process-group ID.
func (p *Process) PID() int { return p.pid }

// Done is closed when the process has exited, the rest of its group is
// gone, and its output has been copied.
func (p *Process) Done() <-chan struct{} { return p.done }

// ExitCode returns the exit status after Done: the code passed to exit, or
// 128+N when signal N killed it (the shell's convention); -1 before Done.
func (p *Process) ExitCode() int {
	select {
	case <-p.done:
		return p.exitCode
	default:
		return -1
	}
}

// Err returns, after Done, nil for exit status 0 and otherwise the error
// (an *exec.ExitError for a non-zero status or a signal).
func (p *Process) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// Wait blocks until Done or ctx ends and returns Err.
func (p *Process) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Signal sends sig to the whole process group.
func (p *Process) Signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return ErrDone
	default:
	}
	// While Done is open the leader is unreaped or its group still has
	// members: either way the group ID cannot have been reused.
	if err := syscall.Kill(-p.pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("proc: signal %d: %w", p.pid, err)
	}
	return nil
}

// Stop sends SIGTERM to the group, waits up to the grace period for the
// whole group to end, then sends SIGKILL and waits for Done. It is
// idempotent and safe to call concurrently. If ctx ends first, the group is
// killed and Stop returns ctx's error without waiting further.
func (p *Process) Stop(ctx context.Context) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	p.mu.Lock()
	if p.stopAt.IsZero() {
		p.stopAt = time.Now()
	}
	deadline := p.stopAt.Add(p.grace)
	p.mu.Unlock()

	_ = p.Signal(syscall.SIGTERM)
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
	case <-ctx.Done():
		_ = p.Signal(syscall.SIGKILL)
		return fmt.Errorf("proc: stop %d: %w", p.pid, ctx.Err())
	}
	_ = p.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("proc: stop %d: %w", p.pid, ctx.Err())
	}
}

// wait is the process's owner goroutine: it waits for the leader to exit
// without reaping it, clears whatever is left of its process group, then
// reaps. Keeping the leader a zombie until the group is empty pins the group
// ID, and clearing the group first means a member that still holds the
// output pipes cannot hold Done back until WaitDelay.
func (p *Process) wait() {
	defer close(p.done)
	defer unregister(p.pid)

	waitExitNoReap(p.pid)
	p.sweepGroup()
	p.err = p.cmd.Wait()
	p.exitCode = exitCode(p.cmd.ProcessState)
}

// sweepGroup terminates the members a leader left behind: SIGTERM if the
// leader ended on its own, SIGKILL once the grace period since the first
// SIGTERM has passed, until no live member remains. Zombies do not count:
// their parent reaps them (the Reaper does, when this process is their
// subreaper).
func (p *Process) sweepGroup() {
	if len(GroupMembers(p.pid, 0)) == 0 {
		return
	}
	p.mu.Lock()
	stopAt := p.stopAt
	p.mu.Unlock()
	if stopAt.IsZero() {
		// The leader ended on its own and left members behind.
		_ = syscall.Kill(-p.pid, syscall.SIGTERM)
		stopAt = time.Now()
	}
	deadline := stopAt.Add(p.grace)
	for wait := time.Millisecond; len(GroupMembers(p.pid, 0)) > 0; {
		if time.Now().After(deadline) {
			_ = syscall.Kill(-p.pid, syscall.SIGKILL)
			deadline = time.Now().Add(time.Hour) // SIGKILL once
		}
		time.Sleep(wait)
		if wait < 20*time.Millisecond {
			wait *= 2
		}
	}
}

// waitExitNoReap blocks until pid has exited, leaving it a zombie.
func waitExitNoReap(pid int) {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err == nil || !errors.Is(err, unix.EINTR) {
			return
		}
	}
}

func exitCode(ps *os.ProcessState) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
