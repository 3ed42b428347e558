//go:build !race

package interp_test

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/warren-mesh/warren/internal/testutil"
	"github.com/warren-mesh/warren/job/interp"
)

// Yaegi's ExecuteWithContext races with its own stop (the race detector
// reports it inside Yaegi), so this test only runs without -race.

// TestInterpretedCancel: cancelling the context stops a busy program.
func TestInterpretedCancel(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	// The interpreter's goroutine notices the cancellation at its next
	// instruction; wait until it did (registered after VerifyNoLeaks, so
	// this cleanup runs first).
	t.Cleanup(func() {
		testutil.Eventually(t, 30*time.Second, func() error {
			buf := make([]byte, 1<<20)
			if n := runtime.Stack(buf, true); bytes.Contains(buf[:n], []byte("yaegi/interp.runCfg")) {
				return errors.New("an interpreter goroutine is still running")
			}
			return nil
		})
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	out := &testutil.SafeBuffer{}
	go func() {
		_, err := interp.Run(ctx, interp.Program{Path: prog("forever.go"), Stdout: out}, interp.Interpreted)
		done <- err
	}()
	testutil.Eventually(t, 30*time.Second, func() error {
		if !strings.Contains(out.String(), "started") {
			return errors.New("program not started")
		}
		return nil
	})
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
