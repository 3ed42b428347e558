package cors

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/warren-mesh/warren/gateway/config"
	"github.com/warren-mesh/warren/internal/testutil"
)

func TestDecide(t *testing.T) {
	trusted := &Policy{Mode: config.CORSTrusted, Origins: []string{"http://app.test:3000", "https://ui.test"},
		AllowMethods: []string{"GET", "POST", "PUT"}, AllowHeaders: []string{"Content-Type", "X-Token"},
		ExposeHeaders: []string{"X-Total"}, AllowCredentials: true, MaxAge: 10 * time.Minute}
	listHeaders := &Policy{Mode: config.CORSTrusted, Origins: []string{"http://app.test:3000"}}
	star := &Policy{Mode: config.CORSTrusted, Origins: []string{"*"}}
	anyP := &Policy{Mode: config.CORSAny}
	off := &Policy{Mode: config.CORSOff}
	const host = "127.0.0.1:8080"
	tests := []struct {
		name    string
		p       *Policy
		r       Request
		result  Result
		headers map[string]string // "" = must be absent
	}{
		{"no origin", trusted, Request{Method: "GET", Host: host}, Pass,
			map[string]string{"Vary": "Origin", "Access-Control-Allow-Origin": ""}},
		{"same origin", trusted, Request{Method: "POST", Host: host, Origin: "http://127.0.0.1:8080"}, Pass,
			map[string]string{"Access-Control-Allow-Origin": ""}},
		{"same origin default port", trusted, Request{Method: "POST", Host: "site.test", Origin: "http://site.test"}, Pass,
			map[string]string{"Access-Control-Allow-Origin": ""}},
		{"scheme differs is cross-origin", trusted, Request{Method: "GET", Host: "site.test", TLS: true, Origin: "http://site.test"}, Refuse, nil},
		{"trusted origin", trusted, Request{Method: "GET", Host: host, Origin: "http://app.test:3000"}, Pass,
			map[string]string{"Access-Control-Allow-Origin": "http://app.test:3000", "Access-Control-Allow-Credentials": "true",
				"Access-Control-Expose-Headers": "X-Total", "Vary": "Origin", "Access-Control-Allow-Methods": ""}},
		{"foreign origin", trusted, Request{Method: "GET", Host: host, Origin: "http://evil.test"}, Refuse,
			map[string]string{"Access-Control-Allow-Origin": "", "Vary": "Origin"}},
		{"foreign null origin", trusted, Request{Method: "POST", Host: host, Origin: "null"}, Refuse, nil},
		{"port matters", trusted, Request{Method: "GET", Host: host, Origin: "http://app.test:3001"}, Refuse, nil},
		{"preflight ok", trusted, Request{Method: "OPTIONS", Host: host, Origin: "https://ui.test", RequestMethod: "PUT", RequestHeaders: "content-type, x-token"}, Preflight,
			map[string]string{"Access-Control-Allow-Origin": "https://ui.test", "Access-Control-Allow-Methods": "GET, POST, PUT",
				"Access-Control-Allow-Headers": "content-type, x-token", "Access-Control-Max-Age": "600"}},
		{"preflight bad method", trusted, Request{Method: "OPTIONS", Host: host, Origin: "https://ui.test", RequestMethod: "DELETE"}, Refuse, nil},
		{"preflight bad header", trusted, Request{Method: "OPTIONS", Host: host, Origin: "https://ui.test", RequestMethod: "GET", RequestHeaders: "X-Other"}, Refuse, nil},
		{"preflight foreign", trusted, Request{Method: "OPTIONS", Host: host, Origin: "http://evil.test", RequestMethod: "GET"}, Refuse, nil},
		{"preflight echoes headers by default", listHeaders, Request{Method: "OPTIONS", Host: host, Origin: "http://app.test:3000", RequestMethod: "POST", RequestHeaders: "X-Anything"}, Preflight,
			map[string]string{"Access-Control-Allow-Headers": "X-Anything", "Access-Control-Allow-Methods": "GET, HEAD, POST", "Access-Control-Max-Age": ""}},
		{"plain OPTIONS is not a preflight", listHeaders, Request{Method: "OPTIONS", Host: host, Origin: "http://app.test:3000"}, Pass, nil},
		{"star in trusted list", star, Request{Method: "GET", Host: host, Origin: "http://whoever.test"}, Pass,
			map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Credentials": ""}},
		{"mode any", anyP, Request{Method: "GET", Host: host, Origin: "http://whoever.test"}, Pass,
			map[string]string{"Access-Control-Allow-Origin": "*"}},
		{"mode off passes foreign", off, Request{Method: "GET", Host: host, Origin: "http://evil.test"}, Pass,
			map[string]string{"Access-Control-Allow-Origin": "", "Vary": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.p.Decide(tt.r)
			if d.Result != tt.result {
				t.Fatalf("result %v (%s), want %v", d.Result, d.Reason, tt.result)
			}
			if tt.result == Refuse && (d.Status != 403 || d.Reason == "") {
				t.Fatalf("refusal %+v", d)
			}
			h := http.Header{}
			d.Apply(h)
			for k, want := range tt.headers {
				if got := h.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if n := len(h.Values("Access-Control-Allow-Origin")); n > 1 {
				t.Errorf("%d Access-Control-Allow-Origin headers", n)
			}
		})
	}
}

func TestFromConfig(t *testing.T) {
	c, err := config.Decode([]byte(`{"trusted_origins":["http://a.test"],"routes":{"80":{"cors":{"origins":["http://b.test"],"max_age":"1m"},"backends":[{"cmd":"internal"}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	n := c.Normalized()
	p := FromConfig(n.TrustedOrigins, n.Routes["80"].CORS)
	for _, o := range []string{"http://a.test", "http://b.test"} {
		if d := p.Decide(Request{Method: "GET", Host: "x:80", Origin: o}); d.Result != Pass || d.Header.Get("Access-Control-Allow-Origin") != o {
			t.Errorf("%s: %+v", o, d)
		}
	}
	if p.MaxAge != time.Minute || p.Mode != config.CORSTrusted {
		t.Fatalf("%+v", p)
	}
}

// TestMiddleware drives a real server: a backend that sets its own
// (wrong) CORS headers must end with exactly the gateway's.
func TestMiddleware(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	backendCalls := 0
	backend := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		backendCalls++
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Add("Access-Control-Allow-Origin", "http://evil.test")
		w.Header().Set("Vary", "Accept-Encoding")
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "hello")
	})
	p := &Policy{Mode: config.CORSTrusted, Origins: []string{"http://app.test"}}
	srv := httptest.NewServer(p.Middleware(backend))
	defer srv.Close()
	client := srv.Client()
	defer client.CloseIdleConnections()
	do := func(method, origin string, hdr map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL, nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	resp := do("GET", "http://app.test", nil)
	if got := resp.Header.Values("Access-Control-Allow-Origin"); len(got) != 1 || got[0] != "http://app.test" {
		t.Fatalf("ACAO %v", got)
	}
	if vary := strings.Join(resp.Header.Values("Vary"), ","); !strings.Contains(vary, "Origin") || !strings.Contains(vary, "Accept-Encoding") {
		t.Fatalf("Vary %q", vary)
	}
	resp = do("POST", "http://evil.test", nil)
	if resp.StatusCode != 403 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign: %d %v", resp.StatusCode, resp.Header)
	}
	resp = do("OPTIONS", "http://app.test", map[string]string{"Access-Control-Request-Method": "POST"})
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Methods") == "" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	if backendCalls != 1 {
		t.Fatalf("backend saw %d requests, want 1 (refusals and preflights are answered by the gateway)", backendCalls)
	}
}
