// Command interprun runs one Go program with package interp, as `warren
// exec` does, for tests that need the interpreter in a child process built
// without -race (Yaegi trips the race detector when a script starts
// goroutines) and without the rest of warren:
//
//	interprun [-mode M] [-build-cache DIR] file.go [args...]
//
// It exits with the program's exit code; an *interp.Error is printed as
// FILE:LINE: MESSAGE.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/warren-mesh/warren/job/interp"
)

func main() { os.Exit(run()) }

func run() int {
	mode := flag.String("mode", "auto", "interpreted, compiled or auto")
	cache := flag.String("build-cache", "", "compiled mode's build cache")
	flag.Parse()
	if flag.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "usage: interprun [-mode M] [-build-cache DIR] file.go [args...]")
		return 2
	}
	m, err := interp.ParseMode(*mode)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var opts []interp.Option
	if *cache != "" {
		opts = append(opts, interp.WithBuildCache(*cache))
	}
	res, err := interp.Run(ctx, interp.Program{
		Path: flag.Arg(0), Args: flag.Args()[1:], Env: os.Environ(),
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
	}, m, opts...)
	if res.Note != "" {
		fmt.Fprintln(os.Stderr, "note:", res.Note)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		var ie *interp.Error
		if errors.As(err, &ie) && res.ExitCode != 0 {
			return res.ExitCode
		}
		return 1
	}
	return res.ExitCode
}
