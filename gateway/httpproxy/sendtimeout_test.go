package httpproxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// endlessBackend answers every request with an endless chunked body and
// reports on ended when writing fails (the gateway let go of it).
func endlessBackend(t *testing.T) (addr string, ended <-chan struct{}) {
	gone := make(chan struct{}, 4)
	chunk := "4000\r\n" + strings.Repeat("x", 0x4000) + "\r\n"
	addr = pathBackend(t, func(_ string, c net.Conn) bool {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
		for {
			if _, err := io.WriteString(c, chunk); err != nil {
				gone <- struct{}{}
				return false
			}
		}
	})
	return addr, gone
}

// send_timeout: a client that takes nothing of a response for that long
// is cut on both paths, and the backend connection is let go with it.
func TestSendTimeoutCutsStalledClient(t *testing.T) {
	for _, path := range bothPaths {
		t.Run(path.name, func(t *testing.T) {
			addr, ended := endlessBackend(t)
			p := New(Options{ID: "gw", SendTimeout: 500 * time.Millisecond}, &Pool{Targets: []*Target{fixed(t, "a", addr)}})
			c, err := net.Dial("tcp", serve(t, p))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.(*net.TCPConn).SetReadBuffer(32 << 10)
			start := time.Now()
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n"+path.header+"\r\n")
			select {
			case <-ended:
			case <-time.After(20 * time.Second):
				t.Fatal("the backend connection of a client reading nothing is still open after 20s (send_timeout 500ms)")
			}
			if el := time.Since(start); el < 500*time.Millisecond {
				t.Fatalf("cut after %v, before send_timeout", el)
			}
			// The client finds what was queued, then the end of the connection.
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.Copy(io.Discard, c); err != nil && !isReset(err) {
				t.Fatalf("client connection not closed: %v", err)
			}
			if n := laneServed(p); n != path.lane {
				t.Errorf("lane took %d requests, want %d", n, path.lane)
			}
		})
	}
}

func isReset(err error) bool { return strings.Contains(err.Error(), "connection reset") }

// A client that reads slowly but steadily is never cut: the timeout runs
// between writes, not over the whole response.
func TestSendTimeoutSparesSlowReader(t *testing.T) {
	for _, path := range bothPaths {
		t.Run(path.name, func(t *testing.T) {
			addr, ended := endlessBackend(t)
			const timeout = time.Second
			p := New(Options{ID: "gw", SendTimeout: timeout}, &Pool{Targets: []*Target{fixed(t, "a", addr)}})
			c, err := net.Dial("tcp", serve(t, p))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.(*net.TCPConn).SetReadBuffer(32 << 10)
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n"+path.header+"\r\n")
			br := bufio.NewReaderSize(c, 4<<10)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			// (The body is endless: closing it would drain it; c.Close ends it.)
			// 16 KiB every 50ms for three timeouts: far slower than the
			// backend writes, so the gateway's output waits all along.
			buf := make([]byte, 16<<10)
			var got int
			for end := time.Now().Add(3 * timeout); time.Now().Before(end); {
				time.Sleep(50 * time.Millisecond)
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				n, err := io.ReadFull(resp.Body, buf)
				got += n
				if err != nil {
					t.Fatalf("slow reader cut after %d bytes: %v", got, err)
				}
			}
			select {
			case <-ended:
				t.Fatal("the backend connection of a steady reader was closed")
			default:
			}
		})
	}
}
