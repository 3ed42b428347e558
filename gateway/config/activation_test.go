package config

import (
	"strings"
	"testing"
)

func TestReadinessSocket(t *testing.T) {
	tests := []struct {
		name, doc, want string // want: "" = valid, else a substring of the error
	}{
		{"http route", `{"routes": {"8080": {"readiness": {"type": "socket"},
			"backends": [{"cmd": "./app", "internal_port": "9001"}, {"cmd": "", "internal_port": "9002"}]}}}`, ""},
		{"tcp route", `{"routes": {"2222": {"protocol": "tcp", "readiness": {"type": "socket"},
			"backends": [{"cmd": "./app", "internal_port": "9001"}]}}}`, ""},
		{"no internal_port", `{"routes": {"8080": {"readiness": {"type": "socket"}, "backends": [{"cmd": "./app"}]}}}`,
			`routes["8080"].backends[0].internal_port: readiness type socket needs`},
		{"stdio", `{"routes": {"8080": {"protocol": "stdio", "readiness": {"type": "socket"}, "backends": [{"cmd": "cat"}]}}}`,
			`routes["8080"].readiness.type: socket activation needs a listening backend`},
		{"path", `{"routes": {"8080": {"readiness": {"type": "socket", "path": "/x"}, "backends": [{"cmd": "./app", "internal_port": "9001"}]}}}`,
			`routes["8080"].readiness.path: a path is only used by readiness type http`},
		{"unknown type names socket", `{"routes": {"8080": {"readiness": {"type": "fd"}, "backends": [{"cmd": "./app", "internal_port": "9001"}]}}}`,
			`want tcp, http, socket or none`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Decode([]byte(tt.doc))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				if got := c.Routes[firstPort(c)].Readiness.Type; got != ReadySocket {
					t.Fatalf("readiness type %q after normalizing", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want error containing %q, got %v", tt.want, err)
			}
		})
	}
}

func firstPort(c Config) string {
	for p := range c.Routes {
		return p
	}
	return ""
}
