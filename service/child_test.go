package service_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warren-mesh/warren/service"
)

const (
	childEnv    = "WARREN_SERVICE_TEST_CHILD"
	childDirEnv = "WARREN_SERVICE_TEST_DIR"
)

// Tick makes its handler push n values (or forever if N is 0) on the stream.
type Tick struct{ N int }

type TickValue struct{ I int }

func (t Tick) Handle(s *service.Stream) any {
	for i := 0; t.N == 0 || i < t.N; i++ {
		if err := s.Send(TickValue{I: i}); err != nil {
			return nil
		}
		if t.N == 0 {
			select {
			case <-s.Context().Done():
				return nil
			case <-time.After(time.Millisecond):
			}
		}
	}
	return nil
}

func init() { service.RegisterType(Tick{}, TickValue{}) }

var (
	blockMu      sync.Mutex
	blockRelease = make(chan struct{})
)

func releaseFor(*service.Stream) chan struct{} {
	blockMu.Lock()
	defer blockMu.Unlock()
	return blockRelease
}

// resetBlock makes Block handlers wait again; releaseBlocked lets every
// current and future one return, until the next reset.
func resetBlock() {
	blockMu.Lock()
	blockRelease = make(chan struct{})
	blockMu.Unlock()
}

func releaseBlocked() {
	blockMu.Lock()
	select {
	case <-blockRelease:
	default:
		close(blockRelease)
	}
	blockMu.Unlock()
}

// runChild is the child process: it publishes test/<name> in OS scope,
// prints "ready", and then per mode:
//
//	serve:   serves until stdin closes
//	peer:    also discovers test/parent and checks 10 000 echoes, prints "ok"
func runChild() int {
	mode := os.Getenv(childEnv)
	dir := os.Getenv(childDirEnv)
	if mode == "bench" {
		return runBenchChild(dir)
	}
	srv := service.NewServer(service.WithScope(service.ScopeOS), service.WithSocketDir(dir))
	if err := srv.Publish("test", "child", Echo{}, Tick{}, Block{}); err != nil {
		fmt.Println("publish:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	fmt.Println("ready")
	code := 0
	if mode == "peer" {
		c := service.NewClient(service.WithScope(service.ScopeOS), service.WithSocketDir(dir), service.WithDiscoverTimeout(20*time.Second))
		if err := exchange(ctx, c, "parent", 10000); err != nil {
			fmt.Println("exchange:", err)
			code = 1
		} else {
			fmt.Println("ok")
		}
	}
	io.Copy(io.Discard, os.Stdin)
	cancel()
	if err := <-served; err != nil {
		fmt.Println("serve:", err)
		code = 1
	}
	return code
}

// exchange discovers test/<name> and checks n echoes. Each echo has 20s
// (a hang fails); the n together have no deadline but ctx's: how fast
// they go depends on the machine's load (both processes run with -race).
func exchange(ctx context.Context, c *service.Client, name string, n int) error {
	conn, err := c.Discover(ctx, "test", name)
	if err != nil {
		return err
	}
	defer conn.Close()
	for i := range n {
		want := EchoReply{Msg: fmt.Sprintf("m%d", i), Num: int32(i)}
		var got EchoReply
		mctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := conn.SendRecv(mctx, Echo{Msg: want.Msg, Num: want.Num}, &got)
		cancel()
		if err != nil {
			return fmt.Errorf("message %d: %w", i, err)
		}
		if got != want {
			return fmt.Errorf("message %d: got %+v, want %+v", i, got, want)
		}
	}
	return nil
}

// child is a running child process.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	done  chan struct{}
}

func startChild(t *testing.T, mode, dir string) *child {
	t.Helper()
	cmd := execSelf(mode, dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := &child{cmd: cmd, stdin: stdin, lines: make(chan string, 100), done: make(chan struct{})}
	go func() {
		defer close(ch.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			ch.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		stdin.Close()
		ch.wait(t)
	})
	ch.expect(t, "ready")
	return ch
}

func (c *child) expect(t *testing.T, want string) {
	t.Helper()
	timer := time.NewTimer(60 * time.Second)
	defer timer.Stop()
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				t.Fatalf("child ended before printing %q", want)
			}
			if strings.TrimSpace(l) == want {
				return
			}
			t.Logf("child: %s", l)
		case <-timer.C:
			t.Fatalf("child did not print %q", want)
		}
	}
}

// wait reaps the child (once) and drains its output.
func (c *child) wait(t *testing.T) {
	select {
	case <-c.done:
		return
	default:
	}
	for l := range c.lines {
		t.Logf("child: %s", l)
	}
	c.cmd.Wait()
	close(c.done)
}

// execSelf prepares this test binary as a child in the given mode.
func execSelf(mode, dir string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, childDirEnv+"="+dir)
	return cmd
}
