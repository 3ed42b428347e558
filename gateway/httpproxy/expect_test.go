package httpproxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/warren-mesh/warren/internal/testutil"
)

// A client that waits for 100 Continue gets it from the gateway, and the
// body then reaches the backend.
func TestProxyExpectContinue(t *testing.T) {
	testutil.VerifyNoLeaks(t, FasthttpIgnores...)
	u := startUpstream(t, "a")
	p := New(Options{ID: "gw", Name: "expect"}, &Pool{Targets: []*Target{fixed(t, "a", u.addr)}})
	addr := serve(t, p)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("interim %q %v", line, err)
	}
	br.ReadString('\n')
	io.WriteString(c, "hello")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "hello" {
		t.Fatalf("%d %q", resp.StatusCode, b)
	}
}
