package gateway

import (
	"slices"
	"time"

	"github.com/warren-mesh/warren/gateway/backend"
	"github.com/warren-mesh/warren/gateway/config"
)

// Status is a snapshot of the engine.
type Status struct {
	ID      string        `json:"id"`
	Running bool          `json:"running"`
	Since   time.Time     `json:"since"`
	Routes  []RouteStatus `json:"routes"`
}

// RouteStatus is one route in Status.
type RouteStatus struct {
	Port      string          `json:"port"`
	Name      string          `json:"name"`
	Protocol  string          `json:"protocol"`
	Listen    string          `json:"listen"`
	Policy    string          `json:"load_balance"`
	Listening bool            `json:"listening"`
	Handoff   bool            `json:"handoff,omitempty"` // the program accepts on the route's socket; Conns is sampled from the kernel
	Conns     int64           `json:"conns"`             // client connections open now
	Requests  uint64          `json:"requests"`          // HTTP requests or TCP connections served
	Backends  []backend.Stats `json:"backends"`
}

// Status returns routes (in port order) and their backends with state,
// pid, requests in flight and totals.
func (e *Engine) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := Status{ID: e.id, Running: e.running && !e.closed, Since: e.started}
	ports := make([]string, 0, len(e.routes))
	for p := range e.routes {
		ports = append(ports, p)
	}
	slices.SortFunc(ports, func(a, b string) int {
		pa, _ := config.ParsePort(a)
		pb, _ := config.ParsePort(b)
		return pa - pb
	})
	for _, p := range ports {
		s.Routes = append(s.Routes, e.routes[p].status())
	}
	return s
}
