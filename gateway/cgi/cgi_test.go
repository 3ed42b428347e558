package cgi

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func TestEnv(t *testing.T) {
	r := httptest.NewRequest("POST", "http://example.test:8443/app/items/7?q=1&x=%20y", strings.NewReader("hello"))
	r.RemoteAddr = "192.0.2.7:51234"
	r.Header.Set("Content-Type", "text/plain")
	r.Header.Add("X-Multi", "a")
	r.Header.Add("X-Multi", "b")
	r.Header.Add("Cookie", "a=1")
	r.Header.Add("Cookie", "b=2")
	r.Header.Set("Proxy", "http://evil.test")
	r.Header["X_Forged"] = []string{"1"}
	r.SetBasicAuth("ann", "secret")
	r.TLS = &tls.ConnectionState{}
	env := Env(r, EnvOptions{ScriptName: "/app", Base: []string{"PATH=/bin", "QUERY_STRING=stale"}})
	m := envMap(env)
	want := map[string]string{
		"GATEWAY_INTERFACE":  "CGI/1.1",
		"SERVER_SOFTWARE":    "warren",
		"SERVER_PROTOCOL":    "HTTP/1.1",
		"REQUEST_METHOD":     "POST",
		"QUERY_STRING":       "q=1&x=%20y",
		"REQUEST_URI":        "/app/items/7?q=1&x=%20y",
		"SCRIPT_NAME":        "/app",
		"PATH_INFO":          "/items/7",
		"SERVER_NAME":        "example.test",
		"SERVER_PORT":        "8443",
		"REMOTE_ADDR":        "192.0.2.7",
		"REMOTE_PORT":        "51234",
		"HTTPS":              "on",
		"HTTP_AUTHORIZATION": "Basic YW5uOnNlY3JldA==", // the child checks it itself
		"CONTENT_LENGTH":     "5",
		"CONTENT_TYPE":       "text/plain",
		"HTTP_X_MULTI":       "a, b",
		"HTTP_COOKIE":        "a=1; b=2",
		"HTTP_HOST":          "example.test:8443",
		"PATH":               "/bin",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %q, want %q", k, m[k], v)
		}
	}
	// REMOTE_USER from an unchecked Basic header would be a name the client
	// chose, passed off as authenticated.
	for _, k := range []string{"HTTP_PROXY", "HTTP_X_FORGED", "HTTP_CONTENT_TYPE", "AUTH_TYPE", "REMOTE_USER"} {
		if _, ok := m[k]; ok {
			t.Errorf("%s must not be set", k)
		}
	}
	if strings.Count(strings.Join(env, "\n"), "QUERY_STRING=") != 1 {
		t.Error("Base entry not overridden")
	}
}

func TestEnvDefaults(t *testing.T) {
	r := httptest.NewRequest("GET", "/x", nil)
	r.Host = ""
	m := envMap(Env(r, EnvOptions{LocalAddr: "127.0.0.1:9000"}))
	if m["SERVER_PORT"] != "9000" || m["SERVER_NAME"] != "127.0.0.1" || m["PATH_INFO"] != "/x" || m["SCRIPT_NAME"] != "" {
		t.Fatalf("%v", m)
	}
	if _, ok := m["CONTENT_LENGTH"]; ok {
		t.Fatal("CONTENT_LENGTH set for a request without body")
	}
}

func TestReadResponse(t *testing.T) {
	tests := []struct {
		name, in   string
		status     int
		header     map[string]string
		body       string
		wantErr    string
		wantErrEOF bool
	}{
		{name: "document", in: "Content-Type: text/html\n\n<p>hi</p>", status: 200, header: map[string]string{"Content-Type": "text/html"}, body: "<p>hi</p>"},
		{name: "crlf and status", in: "Status: 404 Not Found\r\nContent-Type: text/plain\r\nX-A: 1\r\n\r\nnope", status: 404, header: map[string]string{"Content-Type": "text/plain", "X-A": "1"}, body: "nope"},
		{name: "status without reason", in: "Status: 201\n\n", status: 201},
		{name: "client redirect", in: "Location: https://example.test/\n\n", status: 302, header: map[string]string{"Location": "https://example.test/"}},
		{name: "redirect with status", in: "Status: 301 Moved\nLocation: /new\n\n", status: 301, header: map[string]string{"Location": "/new"}},
		{name: "lower-case names", in: "content-type: a/b\nset-cookie: x=1\nset-cookie: y=2\n\nbody\nmore\n\n", status: 200, header: map[string]string{"Content-Type": "a/b"}, body: "body\nmore\n\n"},
		{name: "value colons", in: "X-Time: 12:00:01\n\n", status: 200, header: map[string]string{"X-Time": "12:00:01"}},
		{name: "nph status line", in: "HTTP/1.1 418 I'm a teapot\r\nContent-Type: text/plain\r\n\r\ntea", status: 418, header: map[string]string{"Content-Type": "text/plain"}, body: "tea"},
		{name: "bad nph status line", in: "HTTP/1.1 OK\n\n", wantErr: "bad Status"},
		{name: "nph line and Status header", in: "HTTP/1.0 200 OK\nStatus: 500\n\n", wantErr: "second Status"},
		{name: "empty output", in: "", wantErrEOF: true},
		{name: "no blank line", in: "Content-Type: text/plain\n", wantErr: "ended inside the header block"},
		{name: "body without headers", in: "hello world\n\n", wantErr: "want \"Name: value\""},
		{name: "folded", in: "X-A: 1\n  more\n\n", wantErr: "folded"},
		{name: "bad status", in: "Status: abc\n\n", wantErr: "bad Status"},
		{name: "status out of range", in: "Status: 042 x\n\n", wantErr: "bad Status"},
		{name: "two statuses", in: "Status: 200\nStatus: 500\n\n", wantErr: "second Status"},
		{name: "switching protocols status", in: "Status: 101 Switching Protocols\nUpgrade: websocket\n\n", wantErr: "final status"},
		{name: "informational status", in: "Status: 103 Early Hints\n\n", wantErr: "final status"},
		{name: "nph informational status", in: "HTTP/1.1 100 Continue\n\n", wantErr: "final status"},
		{name: "status above 599", in: "Status: 999 x\n\n", wantErr: "final status"},
		{name: "bad name", in: "X A: 1\n\n", wantErr: "bad header name"},
		{name: "control char", in: "X-A: a\x00b\n\n", wantErr: "control character"},
		{name: "too big", in: "X-A: " + strings.Repeat("a", 200) + "\n\n", wantErr: "larger than the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tt.in), 16) // tiny buffer: lines span reads
			resp, err := ReadResponse(br, 128)
			if tt.wantErrEOF {
				if err != io.EOF {
					t.Fatalf("err = %v, want io.EOF", err)
				}
				return
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrMalformed) {
					t.Fatalf("err = %v, want %q (ErrMalformed)", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tt.status {
				t.Fatalf("status %d, want %d", resp.Status, tt.status)
			}
			for k, v := range tt.header {
				if resp.Header.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, resp.Header.Get(k), v)
				}
			}
			if resp.Header.Get("Status") != "" {
				t.Error("Status kept as a header")
			}
			body, _ := io.ReadAll(br)
			if string(body) != tt.body {
				t.Fatalf("body %q, want %q", body, tt.body)
			}
		})
	}
}

func TestReadResponseMultiValue(t *testing.T) {
	resp, err := ReadResponse(bufio.NewReader(strings.NewReader("Set-Cookie: a=1\nSet-Cookie: b=2\n\n")), 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Header.Values("Set-Cookie"); len(got) != 2 {
		t.Fatalf("Set-Cookie %v", got)
	}
	_ = http.StatusOK
}
