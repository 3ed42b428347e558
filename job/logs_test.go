package job

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warren-mesh/warren/internal/testutil"
	"github.com/warren-mesh/warren/proc"
)

// TestTailFollowAcrossRotation follows a log while it is written and
// rotated many times: every line comes out once, in order.
func TestTailFollowAcrossRotation(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	path := filepath.Join(t.TempDir(), "j.log")
	rf, err := proc.OpenRotatingFile(path, 2048, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		fmt.Fprintf(rf, "before %d\n", i)
	}
	var ended atomic.Bool
	out := &syncWriter{w: new(strings.Builder)}
	done := make(chan error, 1)
	go func() {
		done <- tailFollow(context.Background(), path, 2, true, ended.Load, out)
	}()
	// Wait until the tail is out, then write enough to rotate ~10 times
	// (more than the 3 kept files: the follower must not lag behind).
	testutil.Eventually(t, 5*time.Second, func() error {
		if !strings.Contains(out.String(), "before 4") {
			return fmt.Errorf("tail not written yet: %q", out.String())
		}
		return nil
	})
	const n = 400
	for i := 0; i < n; i++ {
		fmt.Fprintf(rf, "line %04d\n", i)
		if i%40 == 0 {
			// Let the follower poll between bursts, as a real job's
			// output comes over time.
			want := fmt.Sprintf("line %04d", i)
			testutil.Eventually(t, 5*time.Second, func() error {
				if !strings.Contains(out.String(), want) {
					return fmt.Errorf("follower has not seen %q", want)
				}
				return nil
			})
		}
	}
	rf.Close()
	ended.Store(true)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		_, text, _ := strings.Cut(l, " ")
		got = append(got, text)
	}
	if len(got) != 2+n || got[0] != "before 3" || got[1] != "before 4" {
		t.Fatalf("got %d lines, first %q", len(got), got[:min(3, len(got))])
	}
	for i := 0; i < n; i++ {
		if want := fmt.Sprintf("line %04d", i); got[2+i] != want {
			t.Fatalf("line %d = %q, want %q", 2+i, got[2+i], want)
		}
	}
}

// TestTailFollowFallsBehind rotates the log several times between two
// polls of the follower: the files it never had open are read too.
func TestTailFollowFallsBehind(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	path := filepath.Join(t.TempDir(), "j.log")
	rf, err := proc.OpenRotatingFile(path, 512, 3)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(rf, "start")
	var ended atomic.Bool
	out := &syncWriter{w: new(strings.Builder)}
	ready := make(chan struct{})
	gate := make(chan struct{})
	w := writerFunc(func(p []byte) (int, error) {
		select {
		case <-ready:
		default:
			close(ready)
			<-gate // hold the follower while the log rotates
		}
		return out.Write(p)
	})
	done := make(chan error, 1)
	go func() { done <- tailFollow(context.Background(), path, 0, true, ended.Load, w) }()
	<-ready
	// ~40 bytes a line, 512-byte files: 30 lines make 2-3 rotations, all
	// kept (3 rotated files).
	for i := 0; i < 30; i++ {
		fmt.Fprintf(rf, "line %02d\n", i)
	}
	rf.Close()
	ended.Store(true)
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		_, text, _ := strings.Cut(l, " ")
		got = append(got, text)
	}
	if len(got) != 31 || got[0] != "start" || got[30] != "line 29" {
		t.Fatalf("got %d lines: %q", len(got), got)
	}
	for i := 1; i <= 30; i++ {
		if want := fmt.Sprintf("line %02d", i-1); got[i] != want {
			t.Fatalf("line %d = %q, want %q", i, got[i], want)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
