package gateway

import (
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/warren-mesh/warren/internal/testutil"
)

// A port some program accepts on is refused unless a process of this
// engine runs on it, however the host is spelt.
func TestPortGuard(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	var g portGuard
	if err := g.check("127.0.0.1:" + port); err == nil {
		t.Fatal("a foreign program's port passed the check")
	}
	done := make(chan struct{})
	g.started("127.0.0.1:"+port, done)
	for _, addr := range []string{"127.0.0.1:" + port, "localhost:" + port} {
		if err := g.check(addr); err != nil {
			t.Fatalf("%s, where our process runs: %v", addr, err)
		}
	}
	close(done)
	testutil.Eventually(t, 5*time.Second, func() error {
		if g.check("localhost:"+port) == nil {
			return errors.New("still ours after the process ended")
		}
		return nil
	})
	// A port nothing accepts on is free.
	free := testutil.FreePort(t)
	if err := g.check(net.JoinHostPort("127.0.0.1", strconv.Itoa(free))); err != nil {
		t.Fatalf("free port: %v", err)
	}
}
