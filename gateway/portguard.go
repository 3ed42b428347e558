package gateway

import (
	"fmt"
	"net"
	"sync"
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
type portGuard struct {
	mu   sync.Mutex
	live map[string]int // address -> processes of this engine started on it and not yet gone
}

// started records a process of this engine on addr until done closes.
func (g *portGuard) started(addr string, done <-chan struct{}) {
	g.mu.Lock()
	if g.live == nil {
		g.live = map[string]int{}
	}
	g.live[addr]++
	g.mu.Unlock()
	go func() {
		<-done
		g.mu.Lock()
		if g.live[addr]--; g.live[addr] <= 0 {
			delete(g.live, addr)
		}
		g.mu.Unlock()
	}()
}

// check fails when addr accepts connections and no process of this
// engine runs there.
func (g *portGuard) check(addr string) error {
	g.mu.Lock()
	ours := g.live[addr] > 0
	g.mu.Unlock()
	if ours {
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
