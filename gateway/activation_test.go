package gateway

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warren-mesh/warren/gateway/backend"
	"github.com/warren-mesh/warren/gateway/config"
	"github.com/warren-mesh/warren/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestSocketActivation: with readiness type socket the gateway opens the
// backend's socket itself and passes it as fd 3 (LISTEN_FDS=1, LISTEN_PID
// = the backend's pid, which the test backend checks and refuses to start
// without). The backend sleeps 300ms before it accepts: every concurrent
// first request still succeeds, from one process, because connections
// wait in the socket's backlog. The socket outlives the process (a kill,
// then a connect to the dormant backend's port still succeeds) and is
// closed with the backend.
func TestSocketActivation(t *testing.T) {
	leakCheck(t)
	pub, in := port(t), port(t)
	doc := `{"routes": {` + httpRoute(pub, "act", in, `"readiness": {"type": "socket"},`, "-delay", "300ms") + `}}`
	e := startEngine(t, mustConfig(t, doc), Options{})
	if st := e.Status().Routes[0].Backends[0].State; st != backend.Dormant {
		t.Fatalf("before the first request: %s", st)
	}
	var wg sync.WaitGroup
	bodies := make(chan string, 30)
	for range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, body := get(t, "http://127.0.0.1:"+pub+"/pid")
			if code != 200 {
				t.Errorf("status %d: %s", code, body)
			}
			bodies <- body
		}()
	}
	wg.Wait()
	close(bodies)
	seen := map[string]int{}
	for b := range bodies {
		seen[b]++
	}
	st := e.Status().Routes[0].Backends[0]
	if len(seen) != 1 || st.Starts != 1 || st.State != backend.Ready {
		t.Fatalf("responses from %v, status %+v", seen, st)
	}
	first := st.PID
	activated := func(pid int) func() error {
		return func() error {
			logs, _ := e.Logs(pub + "/b")
			want := fmt.Sprintf("pid %d activated with socket %q on 127.0.0.1:%s", pid, "b", in)
			for _, l := range logs {
				if strings.Contains(l, want) {
					return nil
				}
			}
			return fmt.Errorf("no %q in logs %q", want, logs)
		}
	}
	testutil.Eventually(t, 10*time.Second, activated(first))

	// Kill: the process goes, the socket stays (connections queue).
	if err := e.Kill(pub + "/b"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, gone(first))
	testutil.Eventually(t, 10*time.Second, func() error {
		if s := e.Status().Routes[0].Backends[0].State; s != backend.Dormant {
			return fmt.Errorf("state %s", s)
		}
		return nil
	})
	c, err := net.Dial("tcp", "127.0.0.1:"+in)
	if err != nil {
		t.Fatalf("dormant backend's socket refused a connection: %v", err)
	}
	c.Close()
	code, body := get(t, "http://127.0.0.1:"+pub+"/pid")
	second := e.Status().Routes[0].Backends[0].PID
	if code != 200 || body != fmt.Sprint(second) || second == first {
		t.Fatalf("after kill: %d %q (pid %d, first %d)", code, body, second, first)
	}
	testutil.Eventually(t, 10*time.Second, activated(second))

	// Shutdown: process gone and the port free again.
	shutdown(t, e)
	testutil.Eventually(t, 5*time.Second, gone(second))
	ln, err := net.Listen("tcp", "127.0.0.1:"+in)
	if err != nil {
		t.Fatalf("socket still held after shutdown: %v", err)
	}
	ln.Close()
}

// TestSocketActivationReloadWhileOldDrains: a reload replaces a socket-
// activated backend (on the same public port, or moving the route to
// another) while the old one still has a request in flight, and so keeps
// its socket open: the new backend takes the same socket over instead of
// failing to bind the address.
func TestSocketActivationReloadWhileOldDrains(t *testing.T) {
	for _, move := range []bool{false, true} {
		t.Run(map[bool]string{false: "same port", true: "route moves port"}[move], func(t *testing.T) {
			leakCheck(t)
			p1, in := port(t), port(t)
			p2 := p1
			if move {
				p2 = port(t)
			}
			doc := func(pub, name string) string {
				return `{"routes": {` + httpRoute(pub, "act", in, `"readiness": {"type": "socket"},`, "-name", name) + `}}`
			}
			e := startEngine(t, mustConfig(t, doc(p1, "v1")), Options{})
			if code, body := get(t, "http://127.0.0.1:"+p1+"/"); code != 200 {
				t.Fatalf("%d %s", code, body)
			}
			slow := make(chan int, 1)
			go func() {
				code, _ := get(t, "http://127.0.0.1:"+p1+"/slow?d=2s")
				slow <- code
			}()
			time.Sleep(300 * time.Millisecond)
			if err := e.Reload(mustConfig(t, doc(p2, "v2"))); err != nil {
				t.Fatal(err)
			}
			// Either process may answer: both accept on the one socket
			// until the old one, drained, is stopped.
			code, body := get(t, "http://127.0.0.1:"+p2+"/")
			if code != 200 {
				t.Errorf("request during the old backend's drain: %d %q", code, body)
			}
			if code := <-slow; code != 200 {
				t.Errorf("the request in flight on the old backend: %d", code)
			}
		})
	}
}

// TestSocketActivationRoutesDoNotShare: two routes whose socket-activated
// backends name one internal address would share its socket (and serve
// each other's traffic): the config is refused, naming the field.
func TestSocketActivationRoutesDoNotShare(t *testing.T) {
	pa, pb, in := port(t), port(t), port(t)
	doc := `{"routes": {` + httpRoute(pa, "a", in, `"readiness": {"type": "socket"},`, "-name", "A") + `, ` +
		httpRoute(pb, "b", in, `"readiness": {"type": "socket"},`, "-name", "B") + `}}`
	_, err := config.Decode([]byte(doc))
	// Routes are checked in port order: the higher port is the second user.
	first, second := pa, pb
	if mustAtoi(pa) > mustAtoi(pb) {
		first, second = pb, pa
	}
	want := fmt.Sprintf(`routes[%q].backends[0].internal_port: 127.0.0.1:%s is also the socket of routes[%q].backends[0]`, second, in, first)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("want an error containing %q, got %v", want, err)
	}
}

// TestSocketActivationSharedSocketShutDown: the backend a reload replaced
// shuts the shared socket down when stopped, while its successor already
// runs on it: the gateway opens a new socket and restarts the successor
// on it, so the route recovers (it answered 502 for as long as the
// successor lived).
func TestSocketActivationSharedSocketShutDown(t *testing.T) {
	leakCheck(t)
	py := needPython(t)
	pub, in := port(t), port(t)
	script := fd3Server(`c.recv(65536); c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nv1")`,
		"time.sleep(1); s.shutdown(socket.SHUT_RDWR); os._exit(0)")
	v1 := fmt.Sprintf(`{"routes": {%q: {"name": "act", "readiness": {"type": "socket"}, "backends": [{"name": "b", "cmd": %q, "args": %s, "internal_port": %q}]}}}`,
		pub, py, jsonList("-c", script), in)
	e := startEngine(t, mustConfig(t, v1), Options{})
	if code, body := get(t, "http://127.0.0.1:"+pub+"/"); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	if err := e.Reload(mustConfig(t, `{"routes": {`+httpRoute(pub, "act", in, `"readiness": {"type": "socket"},`, "-name", "v2")+`}}`)); err != nil {
		t.Fatal(err)
	}
	for range 5 { // starts v2 on the shared socket while v1 is still stopping
		get(t, "http://127.0.0.1:"+pub+"/")
	}
	time.Sleep(1500 * time.Millisecond) // v1 shuts the socket down and exits
	testutil.Eventually(t, 15*time.Second, func() error {
		c, err := net.Dial("tcp", "127.0.0.1:"+in)
		if err != nil {
			return fmt.Errorf("the backend's socket: %v; status %+v", err, e.Status().Routes[0].Backends[0])
		}
		c.Close()
		// Concurrent requests need new connections to the backend.
		hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
		codes := make(chan int, 4)
		for range 4 {
			go func() {
				resp, err := hc.Get("http://127.0.0.1:" + pub + "/slow?d=100ms")
				if err != nil {
					codes <- 0
					return
				}
				resp.Body.Close()
				codes <- resp.StatusCode
			}()
		}
		for range 4 {
			if c := <-codes; c != 200 {
				return fmt.Errorf("a request answered %d", c)
			}
		}
		return nil
	})
}

func mustAtoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

// keepFlags gives a predecessor back the non-blocking mode exec took from
// it, and never takes it from a new program that set it meanwhile.
func TestActivationKeepFlags(t *testing.T) {
	s := newActivationSocket(fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)), "s")
	t.Cleanup(func() { s.close() })
	f, err := s.file(context.Background()) // opens it, blocking (as systemd passes it)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	nonblock := func() bool {
		var nb bool
		if err := s.withFD(func(fd int) error {
			fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
			nb = fl&unix.O_NONBLOCK != 0
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return nb
	}
	set := func(nb bool) {
		if err := s.withFD(func(fd int) error { return unix.SetNonblock(fd, nb) }); err != nil {
			t.Fatal(err)
		}
	}
	// First start: blocking before; the new program sets O_NONBLOCK before
	// the restore runs.
	restore := s.keepFlags()
	set(true)
	restore()
	if !nonblock() {
		t.Fatal("the restore put a new program's non-blocking socket back in blocking mode")
	}
	// Reload: the predecessor's non-blocking socket, made blocking by exec.
	restore = s.keepFlags()
	set(false)
	restore()
	if !nonblock() {
		t.Fatal("the predecessor's socket was left in blocking mode")
	}
}
