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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
