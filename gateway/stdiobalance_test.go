package gateway

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// TestStdioRouteBalancesBackends: a stdio route with several backends
// runs all of them, picked by the route's policy: round_robin per request
// (http mode) and per connection (stream mode); least_conn sends a new
// connection to the backend with fewer children running.
func TestStdioRouteBalancesBackends(t *testing.T) {
	leakCheck(t)
	ph, ps, pl := port(t), port(t), port(t)
	cgi := func(n string) string {
		return fmt.Sprintf(`{"name": %q, "cmd": "sh", "args": ["-c", "printf 'Content-Type: text/plain\\r\\n\\r\\n%s'"]}`, n, n)
	}
	stream := func(n, extra string) string {
		return fmt.Sprintf(`{"name": %q, "cmd": "sh", "args": ["-c", "echo %s; %s"]}`, n, n, extra)
	}
	doc := fmt.Sprintf(`{"routes": {
		%q: {"protocol": "stdio", "stdio_mode": "http", "backends": [%s, %s]},
		%q: {"protocol": "stdio", "backends": [%s, %s]},
		%q: {"protocol": "stdio", "load_balance": "least_conn", "backends": [%s, %s]}}}`,
		ph, cgi("A"), cgi("B"), ps, stream("A", "true"), stream("B", "true"), pl, stream("A", "cat"), stream("B", "cat"))
	e := startEngine(t, mustConfig(t, doc), Options{})

	seen := map[string]int{}
	for range 4 {
		code, body := get(t, "http://127.0.0.1:"+ph+"/")
		if code != 200 {
			t.Fatalf("cgi: %d %q", code, body)
		}
		seen[body]++
	}
	if seen["A"] != 2 || seen["B"] != 2 {
		t.Fatalf("http mode round_robin over 4 requests: %v", seen)
	}

	line := func(c net.Conn) string {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		s, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Fatalf("read: %q %v", s, err)
		}
		return strings.TrimSpace(s)
	}
	dial := func(p string) net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", "127.0.0.1:"+p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	seen = map[string]int{}
	for range 4 {
		c := dial(ps)
		seen[line(c)]++
		c.Close()
	}
	if seen["A"] != 2 || seen["B"] != 2 {
		t.Fatalf("stream mode round_robin over 4 connections: %v", seen)
	}

	// least_conn: the first connection keeps its child (cat) running, so
	// the second must go to the other backend.
	first := line(dial(pl))
	second := line(dial(pl))
	if first == second {
		t.Fatalf("least_conn: both connections went to %s", first)
	}
	for _, r := range e.Status().Routes {
		if r.Port != pl {
			continue
		}
		for _, b := range r.Backends {
			if b.Active != 1 || b.Requests != 1 {
				t.Fatalf("least_conn backend %+v, want 1 active and 1 request", b)
			}
		}
	}
}
