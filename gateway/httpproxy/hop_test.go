package httpproxy

import (
	"testing"

	"github.com/valyala/fasthttp"
)

// TestDropHopHeaders: every hop-by-hop header is removed, also when it is
// the only one (the one-pass check must see it), and end-to-end headers
// are kept.
func TestDropHopHeaders(t *testing.T) {
	cases := append([]string{}, hopHeaders...)
	cases = append(cases, "keep-alive", "te", "X-Custom-Hop") // the server normalizes names; one named in Connection
	for _, k := range cases {
		t.Run(k, func(t *testing.T) {
			var h fasthttp.RequestHeader
			h.SetMethod("GET")
			h.SetRequestURI("/")
			h.SetHost("example")
			h.Set("X-Keep", "1")
			h.Set(k, "v")
			if k == "X-Custom-Hop" {
				h.Set("Connection", "X-Custom-Hop")
			}
			dropHopHeaders(&h)
			if v := h.Peek(k); len(v) != 0 {
				t.Fatalf("%s still present: %q\n%s", k, v, h.String())
			}
			if string(h.Peek("X-Keep")) != "1" || string(h.Host()) != "example" {
				t.Fatalf("end-to-end headers lost:\n%s", h.String())
			}
		})
	}
}

func BenchmarkDropHopHeadersNone(b *testing.B) {
	var h fasthttp.RequestHeader
	h.SetMethod("GET")
	h.SetRequestURI("/")
	h.SetHost("example")
	h.Set("User-Agent", "wrk")
	h.Set("Accept", "*/*")
	b.ReportAllocs()
	for b.Loop() {
		dropHopHeaders(&h)
	}
}
