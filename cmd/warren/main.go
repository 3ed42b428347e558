// Command warren is the single binary of the warren service mesh: node daemon,
// job runner, gateway and CLI. All behaviour lives in package cli; this file
// only turns its error into an exit code, and is the only caller of os.Exit.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/warren-mesh/warren/cli"
	_ "github.com/warren-mesh/warren/internal/residency" // maps the binary in one call for short commands
)

func main() {
	// SIGINT or SIGTERM ends the context with the signal as its cause
	// (cli.Interrupted), so that a command it stops exits 128+N.
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		if s, ok := (<-sigs).(syscall.Signal); ok {
			cancel(cli.Interrupted{Signal: s})
		}
	}()
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	signal.Stop(sigs)
	os.Exit(code)
}
