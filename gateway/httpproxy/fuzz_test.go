package httpproxy

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warren-mesh/warren/gateway/backend"
	"github.com/warren-mesh/warren/gateway/config"
	"github.com/warren-mesh/warren/gateway/cors"
)

// FuzzProxyRequest feeds arbitrary bytes to the proxy as a client
// connection. Whatever arrives, the proxy must not crash, must answer with
// a well-formed HTTP response (or close), and must never forward a request
// that carries its own ID in the hop header.
func FuzzProxyRequest(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
		"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX-Warren-Hops: x, fuzzgw\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nConnection: X-A, close\r\nX-A: 1\r\nForwarded: for=1.2.3.4\r\nX-Forwarded-For: 1.1.1.1\r\n\r\n",
		"OPTIONS / HTTP/1.1\r\nHost: a\r\nOrigin: https://x.example\r\nAccess-Control-Request-Method: PUT\r\n\r\n",
		"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
		"\x00\x01garbage\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	// The backend records whether a looping request got through.
	looped := make(chan struct{}, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hasHop([]byte(strings.Join(r.Header.Values(HopHeader), ",")), "fuzzgw,") {
			select {
			case looped <- struct{}{}:
			default:
			}
		}
		w.Write([]byte("ok"))
	}), ReadHeaderTimeout: time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	b, _ := backend.New(backend.Config{Name: "b", Addr: ln.Addr().String()})
	defer b.Close(context.Background())
	pol := &cors.Policy{Mode: config.CORSTrusted, Origins: []string{"https://ok.example"}}
	p := New(Options{ID: "fuzzgw", Name: "fuzz", ReadHeaderTimeout: time.Second, IdleTimeout: 100 * time.Millisecond}, &Pool{Targets: []*Target{NewTarget(b)}, CORS: pol, MaxBodyBytes: 1 << 16})
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); p.Serve(pl) }()
	defer func() {
		p.Shutdown(context.Background())
		<-done
	}()

	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := net.Dial("tcp", pl.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write(data)
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		br := bufio.NewReader(c)
		for {
			peek, err := br.Peek(1)
			if err != nil || len(peek) == 0 {
				break // closed: fine
			}
			if bytes.HasPrefix(data, []byte("GET /ws")) {
				break // an upgrade becomes a raw pipe
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("malformed response to %q: %v", data, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.Close {
				break
			}
		}
		select {
		case <-looped:
			t.Fatalf("request carrying the gateway's own hop ID was forwarded: %q", data)
		default:
		}
	})
}
