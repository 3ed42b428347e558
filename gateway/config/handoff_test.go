package config

import (
	"strings"
	"testing"
)

func TestHandoff(t *testing.T) {
	tests := []struct {
		name, doc, want string // want: "" = valid, else a substring of the error
	}{
		{"valid", `{"routes": {"2222": {"protocol": "tcp", "handoff": true, "idle_timeout": "1m",
			"backends": [{"cmd": "./app", "args": ["-x"]}]}}}`, ""},
		{"valid with readiness socket", `{"routes": {"2222": {"protocol": "tcp", "handoff": true, "readiness": {"type": "socket"},
			"backends": [{"cmd": "./app"}]}}}`, ""},
		{"http route", `{"routes": {"8080": {"handoff": true, "backends": [{"cmd": "./app"}]}}}`,
			`routes["8080"].handoff: only tcp routes can hand their socket to a program (protocol is "http")`},
		{"two backends", `{"routes": {"2222": {"protocol": "tcp", "handoff": true, "backends": [{"cmd": "./a"}, {"cmd": "./b"}]}}}`,
			`routes["2222"].backends: a handoff route has exactly one backend`},
		{"proxy backend", `{"routes": {"2222": {"protocol": "tcp", "handoff": true, "backends": [{"internal_port": "9001"}]}}}`,
			`routes["2222"].backends[0].cmd: a handoff route's backend is a program to start`},
		{"internal_port", `{"routes": {"2222": {"protocol": "tcp", "handoff": true, "backends": [{"cmd": "./a", "internal_port": "9001"}]}}}`,
			`routes["2222"].backends[0].internal_port: not used with handoff`},
		{"readiness tcp", `{"routes": {"2222": {"protocol": "tcp", "handoff": true, "readiness": {"type": "tcp"}, "backends": [{"cmd": "./a"}]}}}`,
			`routes["2222"].readiness.type: a handoff route's program is ready when it runs`},
		{"conn_idle_timeout", `{"routes": {"2222": {"protocol": "tcp", "handoff": true, "conn_idle_timeout": "5m", "backends": [{"cmd": "./a"}]}}}`,
			`routes["2222"].conn_idle_timeout: not enforced with handoff`},
		{"least_conn", `{"routes": {"2222": {"protocol": "tcp", "handoff": true, "load_balance": "least_conn", "backends": [{"cmd": "./a"}]}}}`,
			`routes["2222"].load_balance: a handoff route has one backend`},
		{"without handoff the port is still required", `{"routes": {"2222": {"protocol": "tcp", "backends": [{"cmd": "./a"}]}}}`,
			`routes["2222"].backends[0].internal_port: the port the program listens on is required`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Decode([]byte(tt.doc))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				if got := c.Normalized().Routes["2222"].Readiness.Type; got != ReadySocket {
					t.Fatalf("readiness type %q after normalizing, want socket", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want error containing %q, got %v", tt.want, err)
			}
		})
	}
}

func TestHandoffChangeReplacesListener(t *testing.T) {
	a := Route{Protocol: ProtocolTCP, Backends: []Backend{{Cmd: "./a", InternalPort: "9001"}}}
	b := Route{Protocol: ProtocolTCP, Handoff: true, Backends: []Backend{{Cmd: "./a"}}}
	if d := CompareRoute("2222", a, b); !d.Listener {
		t.Fatalf("turning handoff on keeps the listener: %+v", d)
	}
	c := b
	c.Backends = []Backend{{Cmd: "./a", Args: []string{"-v"}}}
	if d := CompareRoute("2222", b, c); d.Listener {
		t.Fatalf("a handoff route's new program replaces the listener: %+v", d)
	}
}
