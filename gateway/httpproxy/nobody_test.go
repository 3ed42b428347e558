package httpproxy

import (
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/warren-mesh/warren/internal/testutil"
)

// Responses without a body (HEAD, 204, 304) keep the client's keep-alive
// connection in sync: no stray body bytes, the next request works.
func TestProxyBodilessResponses(t *testing.T) {
	testutil.VerifyNoLeaks(t, FasthttpIgnores...)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(204)
		case "/304":
			w.Header().Set("ETag", `"x"`)
			w.WriteHeader(304)
		default:
			w.Header().Set("Content-Length", "5")
			w.Write([]byte("hello"))
		}
	})}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	defer func() { srv.Close(); <-done }()
	p := New(Options{ID: "gw", Name: "nobody"}, &Pool{Targets: []*Target{fixed(t, "a", ln.Addr().String())}})
	addr := serve(t, p)
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for i, tc := range []struct {
		method, path string
		code         int
	}{{"HEAD", "/", 200}, {"GET", "/204", 204}, {"GET", "/304", 304}, {"GET", "/", 200}, {"HEAD", "/", 200}, {"GET", "/", 200}} {
		req, _ := http.NewRequest(tc.method, "http://"+addr+tc.path, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%d %s %s: %v", i, tc.method, tc.path, err)
		}
		var body [16]byte
		n, _ := resp.Body.Read(body[:])
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Fatalf("%s %s: %d", tc.method, tc.path, resp.StatusCode)
		}
		want := ""
		if tc.method == "GET" && tc.code == 200 {
			want = "hello"
		}
		if got := string(body[:n]); got != want {
			t.Fatalf("%s %s: body %q, want %q", tc.method, tc.path, got, want)
		}
		if tc.method == "HEAD" && resp.ContentLength != 5 {
			t.Fatalf("HEAD content length %d, want 5", resp.ContentLength)
		}
	}
}
