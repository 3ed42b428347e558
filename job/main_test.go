package job

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/warren-mesh/warren/proc"
)

// The test binary doubles as the group host: the Manager under test starts
// it as `<test binary> __group ...` with JOB_TEST_HOST=1.
func TestMain(m *testing.M) {
	if os.Getenv("JOB_TEST_HOST") == "1" && len(os.Args) > 1 && os.Args[1] == "__group" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := GroupMainWith(ctx, os.Args[2:], fakeInterp{}, os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	// Job processes orphaned when a test kills a host come back here.
	if err := proc.BecomeSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	r := &proc.Reaper{Interval: 200 * time.Millisecond}
	r.Start(context.Background())
	code := m.Run()
	r.Close(context.Background())
	os.Exit(code)
}

// fakeInterp stands in for job/interp in these tests: it "runs" a .go file
// by obeying directives in it: "//exit N" ends with code N, "//print S"
// writes S, "//block" waits until stopped, "//stuck" never returns, "//echo" copies stdin to stdout,
// "//panic" fails with an error.
type fakeInterp struct{}

func (fakeInterp) Run(ctx context.Context, p Program, mode Mode) (Result, error) {
	src, err := os.ReadFile(p.Path)
	if err != nil {
		return Result{}, err
	}
	res := Result{ModeUsed: Interpreted}
	if mode == Compiled {
		res.ModeUsed = Compiled
	}
	for _, line := range strings.Split(string(src), "\n") {
		cmd, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch cmd {
		case "//print":
			fmt.Fprintln(p.Stdout, arg, strings.Join(p.Args, " "))
		case "//echo":
			if p.Stdin != nil {
				io.Copy(p.Stdout, p.Stdin)
			}
		case "//stuck": // ignores cancellation, like a native call that never returns
			select {}
		case "//block":
			<-ctx.Done()
			return res, ctx.Err()
		case "//panic":
			return res, fmt.Errorf("%s:1: panic: %s", p.Path, arg)
		case "//exit":
			res.ExitCode, _ = strconv.Atoi(arg)
			return res, nil
		}
	}
	return res, nil
}
