// Package cli holds warren's cobra commands. It reaches the daemon only
// through the service library's client; it never touches daemon state
// directly. cmd/warren calls Main and turns its result into the exit code.
//
// Each command lives in its own file and is added to the root by a
// constructor listed in commands (root.go), so several people can add
// commands without touching each other's files.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/warren-mesh/warren/internal/logging"
)

// Env is what every command gets: its streams and, after flag parsing, the
// logger built from --log-level and --log-format.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer

	LogLevel  string
	LogFormat string
	Log       *slog.Logger
}

// commands lists the constructors of the top-level subcommands. Add yours here.
var commands = []func(*Env) *cobra.Command{
	newVersionCmd,
	newGroupCmd,
	newGatewayCmd,
	newExecCmd,
	newDaemonCmd, newIDCmd, newInfoCmd, newListCmd,
	newRunCmd, newPsCmd, newStopCmd, newStartCmd, newRmCmd, newKillCmd, newLogCmd, newMvCmd, newJobListCmd,
}

// ExitError carries a specific exit code out of a command (for example the
// exit code of a program run by `warren exec`). Its message, if any, is
// printed; an empty message prints nothing.
type ExitError struct {
	Code int
	Err  error
}

// Interrupted is the cause of Main's context when a signal ended it
// (cmd/warren cancels it so): a command that then fails exits 128+N, as a
// shell reports a program ended by signal N (130 for SIGINT, 143 for
// SIGTERM), not 1 as for an error of its own.
type Interrupted struct{ Signal syscall.Signal }

func (i Interrupted) Error() string { return "interrupted by " + unix.SignalName(i.Signal) }

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// usageError marks bad flags or arguments: exit code 2, as is the Unix custom.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// Usagef returns an error that makes warren exit with code 2.
func Usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// NewRoot builds the root command with every subcommand attached.
func NewRoot(env *Env) *cobra.Command {
	root := &cobra.Command{
		Use:   "warren",
		Short: "warren turns a Linux box into a node of a service mesh",
		Long: `warren is one binary that makes any Linux box a node of a service mesh:
it runs Go programs (interpreted) and executables as jobs, publishes and
discovers services by name in four scopes (process, OS, LAN, WAN), and fronts
services with an HTTP/TCP/stdio gateway that starts backends on demand.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			l, err := logging.New(env.Stderr, logging.Options{Level: env.LogLevel, Format: env.LogFormat})
			if err != nil {
				return usageError{err}
			}
			env.Log = l
			return nil
		},
	}
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w\nSee '%s --help'.", err, c.CommandPath())}
	})
	pf := root.PersistentFlags()
	pf.StringVar(&env.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	pf.StringVar(&env.LogFormat, "log-format", "", "log format: text or json (default: text on a terminal, json otherwise)")
	// Every command accepts --workdir, so that an alias or a script can
	// always pass it; the commands that talk to a daemon define their own
	// (which shadows this one), the others have no daemon to choose.
	var ignoredWorkdir string
	pf.StringVar(&ignoredWorkdir, "workdir", "", "work dir of the daemon to use (ignored by commands that use no daemon)")
	for _, c := range commands {
		root.AddCommand(c(env))
	}
	return root
}

// Main runs warren with args (without the program name) and returns the
// process exit code: 0 on success, 2 for usage errors, the code of an
// ExitError, and 1 for any other error.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	env := &Env{Stdin: stdin, Stdout: stdout, Stderr: stderr, Log: logging.Discard()}
	root := NewRoot(env)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintln(stderr, "warren:", ee.Err)
		}
		return ee.Code
	}
	var intr Interrupted
	if errors.As(context.Cause(ctx), &intr) {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(stderr, "warren:", intr)
		} else {
			fmt.Fprintf(stderr, "warren: %v (%v)\n", err, intr)
		}
		return 128 + int(intr.Signal)
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, "warren:", err) // ours name the command and its help
		return 2
	}
	if isCobraUsage(err) {
		// cobra's own messages ("requires at least 1 arg(s)") name neither
		// the command nor where its usage is.
		path := "warren"
		if cmd != nil {
			path = cmd.CommandPath()
		}
		if path == "warren" {
			fmt.Fprintln(stderr, "warren:", err)
		} else {
			fmt.Fprintf(stderr, "warren: %s: %v\n", strings.TrimPrefix(path, "warren "), err)
		}
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", path)
		return 2
	}
	fmt.Fprintln(stderr, "warren:", err)
	return 1
}

// isCobraUsage recognises cobra's own argument errors (unknown command,
// wrong number of args), which it does not type.
func isCobraUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "requires at most", "unknown flag", "unknown shorthand"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}
