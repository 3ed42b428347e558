package config

import (
	"cmp"
	"fmt"
)

// validateHandoff checks a route with handoff set.
func validateHandoff(rp string, r Route, add func(string, string, ...any)) {
	if r.Protocol != ProtocolTCP {
		add(rp+".handoff", "only tcp routes can hand their socket to a program (protocol is %q)", cmp.Or(r.Protocol, ProtocolHTTP))
		return
	}
	if len(r.Backends) != 1 {
		add(rp+".backends", "a handoff route has exactly one backend (the program that accepts on the route's socket), got %d", len(r.Backends))
	}
	for i, b := range r.Backends {
		bp := fmt.Sprintf("%s.backends[%d]", rp, i)
		if b.Kind() != KindProcess {
			add(bp+".cmd", "a handoff route's backend is a program to start (cmd), not a proxy address or \"internal\"")
		}
		if b.InternalPort != "" || b.InternalHost != "" {
			add(bp+".internal_port", "not used with handoff: the program accepts on the route's own socket (fd 3); leave internal_host and internal_port empty")
		}
	}
	if rd := r.Readiness; rd != nil && rd.Type != "" && rd.Type != ReadySocket {
		add(rp+".readiness.type", "a handoff route's program is ready when it runs (the socket is open before it starts); leave readiness out or use \"socket\", got %q", rd.Type)
	}
	if r.ConnIdleTimeout > 0 {
		add(rp+".conn_idle_timeout", "not enforced with handoff: the gateway does not see the connections' bytes (the program must close idle connections itself)")
	}
	if r.LoadBalance != "" && r.LoadBalance != BalanceRoundRobin {
		add(rp+".load_balance", "a handoff route has one backend; %q does not apply", r.LoadBalance)
	}
}
