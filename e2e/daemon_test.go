package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warren-mesh/warren/internal/testutil"
)

func TestSecondDaemonRefused(t *testing.T) {
	n := newNode(t)
	n.startNoWait()
	lock := filepath.Join(n.workDir, "daemon.lock")
	testutil.Eventually(t, 20*time.Second, func() error {
		b, err := os.ReadFile(lock)
		if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(n.pid()) {
			return fmt.Errorf("lock file %q %v", b, err)
		}
		return nil
	})
	r := n.run("daemon")
	if r.code == 0 || !strings.Contains(r.stderr, "already running") || !strings.Contains(r.stderr, "pid "+strconv.Itoa(n.pid())) {
		t.Fatalf("second daemon: %v", r)
	}
	if r.elapsed > 5*time.Second { // generous: the goal (1 s) is a benchmark figure, not a test assertion
		t.Fatalf("second daemon took %v to fail", r.elapsed)
	}
}

// A SIGKILLed daemon leaves its lock file and sockets behind; they must not
// block the next start, and the node keeps its identity.
func TestDaemonRestartAfterSIGKILL(t *testing.T) {
	n := newNode(t)
	n.startNoWait()
	idFile := filepath.Join(n.workDir, "node-id")
	testutil.Eventually(t, 20*time.Second, func() error {
		_, err := os.Stat(idFile)
		return err
	})
	id1, _ := os.ReadFile(idFile)
	n.kill9()
	n.startNoWait()
	lock := filepath.Join(n.workDir, "daemon.lock")
	testutil.Eventually(t, 20*time.Second, func() error {
		b, err := os.ReadFile(lock)
		if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(n.pid()) {
			return fmt.Errorf("lock file %q %v", b, err)
		}
		return nil
	})
	id2, _ := os.ReadFile(idFile)
	if string(id1) != string(id2) || len(strings.TrimSpace(string(id1))) != 12 {
		t.Fatalf("node id %q then %q", id1, id2)
	}
}
