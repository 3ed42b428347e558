package gateway

import (
	"fmt"
	"net"
	"time"
)

// portGuard keeps a backend start from taking another program's port for
// its own. The readiness check only asks whether something accepts on
// internal_port, so a port already held by a program the gateway did not
// start (one started by hand, or a backend that a killed gateway left
// running) looked like a ready backend: requests went to it, while the
// process the gateway started failed to bind. So before a start the
// port must not accept, unless a process of this engine runs there (a
// reload's predecessor draining on the same port).
//
// Processes are recorded by port, not by host:port: the host is a name as
// the config spells it, and a reload that only respells it (127.0.0.1 to
// localhost) while the old process drains must find that process ours.
// Two backends on one port of different hosts then vouch for each other,
// which only skips the check (the behaviour before the guard).
type portGuard struct {
	live liveSet[string] // ports of this engine's processes
}

func guardKey(addr string) string {
	if _, port, err := net.SplitHostPort(addr); err == nil {
		return port
	}
	return addr
}

// started records a process of this engine on addr until done closes.
func (g *portGuard) started(addr string, done <-chan struct{}) { g.live.add(guardKey(addr), done) }

// check fails when addr accepts connections and no process of this
// engine runs on its port.
func (g *portGuard) check(addr string) error {
	if g.live.has(guardKey(addr)) {
		return nil
	}
	// Only a completed connection counts: a host that does not answer
	// in time (a container's address not up yet) holds nothing.
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return nil
	}
	c.Close()
	return fmt.Errorf("%s already accepts connections before the backend started: another program holds internal_port (one started by hand, or a backend a killed gateway left running); stop it or change internal_port", addr)
}
