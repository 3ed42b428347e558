package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/warren-mesh/warren/gateway/backend"
	"github.com/warren-mesh/warren/internal/testutil"
)

func backendStats(t *testing.T, e *Engine, pub string) backend.Stats {
	t.Helper()
	for _, r := range e.Status().Routes {
		if r.Port == pub {
			return r.Backends[0]
		}
	}
	t.Fatalf("no route %s", pub)
	return backend.Stats{}
}

func waiting(t *testing.T, e *Engine, pub string, n int) func() error {
	return func() error {
		if got := backendStats(t, e, pub).Waiting; got != n {
			return fmt.Errorf("route %s: %d requests waiting, want %d", pub, got, n)
		}
		return nil
	}
}

// TestClientHangupFreesQueueSlot: with max_pending 1 and a backend that
// never becomes ready, a waiting client that closes its connection frees
// the slot at once (not at start_timeout, 60s here): the next request
// queues instead of getting 503. The same on a tcp route.
func TestClientHangupFreesQueueSlot(t *testing.T) {
	leakCheck(t)
	ph, pt, in, in2 := port(t), port(t), port(t), port(t)
	extra := `"start_timeout": "60s", "max_pending": 1,`
	doc := fmt.Sprintf(`{"routes": {%s, %q: {"name": "t", "protocol": "tcp", %s "backends": [{"name": "b", "cmd": %q, "args": ["-mode", "never"], "internal_port": %q}]}}}`,
		httpRoute(ph, "h", in, extra, "-mode", "never"), pt, extra, backendBin, in2)
	e := startEngine(t, mustConfig(t, doc), Options{})

	send := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", "127.0.0.1:"+ph)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		io.WriteString(c, "GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
		return c
	}
	a := send()
	testutil.Eventually(t, 10*time.Second, waiting(t, e, ph, 1))
	// The queue is full: another request is refused at once.
	b := send()
	b.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(b), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second request with a full queue: %d", resp.StatusCode)
	}
	// The waiting client hangs up: its slot is free again.
	a.Close()
	testutil.Eventually(t, 10*time.Second, waiting(t, e, ph, 0))
	c := send()
	testutil.Eventually(t, 10*time.Second, waiting(t, e, ph, 1))
	c.(*net.TCPConn).SetLinger(0) // a reset counts as a hang-up too
	c.Close()
	testutil.Eventually(t, 10*time.Second, waiting(t, e, ph, 0))

	// tcp route: a client that connects, sends nothing and leaves.
	d, err := net.Dial("tcp", "127.0.0.1:"+pt)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, waiting(t, e, pt, 1))
	d.Close()
	testutil.Eventually(t, 10*time.Second, waiting(t, e, pt, 0))

	pids := []int{backendStats(t, e, ph).LastPID, backendStats(t, e, pt).LastPID}
	if st := backendStats(t, e, ph); st.State != backend.Starting {
		t.Fatalf("backend state %s, want still starting", st.State)
	}
	shutdown(t, e)
	testutil.Eventually(t, 10*time.Second, gone(pids...))
}

func shutdown(t *testing.T, e *Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}
