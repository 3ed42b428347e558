package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/warren-mesh/warren/internal/residency"
	"github.com/warren-mesh/warren/job/interp"
)

// newExecCmd is `warren exec`: run one program in the foreground, without a
// daemon, and exit with its exit code.
func newExecCmd(env *Env) *cobra.Command {
	var mode, cache string
	c := &cobra.Command{
		Use:   "exec [--mode interpreted|compiled|auto] <file.go|dir|executable> [args...]",
		Short: "Run a Go program (or any executable) in the foreground, without a daemon",
		Long: `Run a Go program in the foreground and exit with its exit code. No daemon is
needed. A .go file or the directory of a main package runs in one of three modes:

  interpreted  in-process with the embedded Go interpreter (no toolchain needed)
  compiled     built with the Go toolchain (go on PATH), cached by content hash
  auto         interpreted, falling back to compiled when the interpreter rejects
               the program (the default; the fallback is reported on stderr)

Anything else is run as an executable. Everything after the program path
belongs to the program, flags included. A compile error or a panic is reported
as FILE:LINE: MESSAGE with exit code 1 (compile) or 2 (panic), as go run does.`,
		Example: `  warren exec hello.go
  warren exec app.go -h                    # the app's own help, not warren's
  warren exec --mode compiled ./cmd/tool --verbose input.txt
  echo data | warren exec filter.go        # stdin reaches the program
  warren exec /bin/echo hi                 # any executable`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := interp.ParseMode(mode)
			if err != nil {
				return Usagef("%v", err)
			}
			path := args[0]
			p := interp.Program{Path: path, Args: args[1:], Env: os.Environ(), Stdin: env.Stdin, Stdout: env.Stdout, Stderr: env.Stderr}
			if !isGoProgram(path) {
				return execBinary(cmd, env, p)
			}
			opts := []interp.Option{interp.WithLogger(env.Log)}
			if cache != "" {
				opts = append(opts, interp.WithBuildCache(cache))
			}
			// The process started with its whole binary mapped (package
			// residency); a program that keeps running gives back what it
			// does not use, as an idle group host does.
			trim := time.AfterFunc(groupTrimIdle, func() { _ = residency.Trim() })
			defer trim.Stop()
			// An auto-mode fallback is said on the program's stderr by interp.Run.
			res, err := interp.Run(cmd.Context(), p, m, opts...)
			if err != nil {
				var ie *interp.Error
				if errors.As(err, &ie) {
					code := res.ExitCode
					if code == 0 {
						code = 1
					}
					return &ExitError{Code: code, Err: err}
				}
				return err
			}
			if res.ExitCode != 0 {
				return &ExitError{Code: res.ExitCode}
			}
			return nil
		},
	}
	c.Flags().SetInterspersed(false)
	c.Flags().StringVar(&mode, "mode", "auto", "how to run a Go program: interpreted, compiled or auto")
	c.Flags().StringVar(&cache, "build-cache", "", "directory for compiled builds (default: warren/builds in the user cache dir)")
	return c
}

// isGoProgram says whether path is a .go file or a directory holding one.
func isGoProgram(path string) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return strings.HasSuffix(path, ".go")
	}
	if !fi.IsDir() {
		return strings.HasSuffix(path, ".go")
	}
	m, _ := filepath.Glob(filepath.Join(path, "*.go"))
	return len(m) > 0
}

// execGrace is how long a program run by `warren exec` has to exit after
// SIGTERM, when warren itself is interrupted, before it is killed.
const execGrace = 10 * time.Second

// execBinary runs any other executable in the foreground.
func execBinary(cmd *cobra.Command, env *Env, p interp.Program) error {
	path := p.Path
	if !strings.Contains(path, "/") {
		lp, err := exec.LookPath(path)
		if err != nil {
			return fmt.Errorf("exec: %w", err)
		}
		path = lp
	}
	c := exec.CommandContext(cmd.Context(), path, p.Args...)
	c.Stdin, c.Stdout, c.Stderr = env.Stdin, env.Stdout, env.Stderr
	// SIGINT or SIGTERM to warren asks the program to stop (SIGTERM) and
	// gives it execGrace to do so, as `warren stop` does, instead of
	// killing it outright.
	c.Cancel = func() error { return c.Process.Signal(syscall.SIGTERM) }
	c.WaitDelay = execGrace
	err := c.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		// A program ended by a signal exits 128+N, as a shell reports it
		// (ExitCode is -1 there, which became 255).
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return &ExitError{Code: 128 + int(ws.Signal())}
		}
		return &ExitError{Code: ee.ExitCode()}
	}
	if err != nil {
		return fmt.Errorf("exec: %w", err)
	}
	return nil
}
