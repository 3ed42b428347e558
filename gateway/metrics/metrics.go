// Package metrics owns the gateway's Prometheus metrics: a Set of
// collectors on a private registry (never the global one, so several
// gateways can live in one process and tests see only their own numbers)
// and the Handler that serves them at /metrics. A Set satisfies the
// engine's Observer interface (Request, BackendEvent, Conn).
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric name.
const Namespace = "warren_gateway"

// Backend events the Set counts (the engine's BackendEvent names).
const (
	EventStart       = "start"        // a cold start began
	EventReady       = "ready"        // a started backend became ready
	EventStartFailed = "start_failed" // a start failed (exit during start, timeout)
	EventExit        = "exit"         // a backend process exited
	EventIdleStop    = "idle_stop"    // stopped after idle_timeout
	EventKill        = "kill"         // killed through the admin API
)

// Set is the gateway's collectors. It is safe for concurrent use.
type Set struct {
	reg *prometheus.Registry

	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	coldStarts    *prometheus.CounterVec
	startFailures *prometheus.CounterVec
	restarts      *prometheus.CounterVec
	events        *prometheus.CounterVec
	active        *prometheus.GaugeVec

	mu      sync.Mutex
	started map[[2]string]bool // backends that have started once: later starts are restarts
}

// Options configure New.
type Options struct {
	// Buckets of the latency histogram in seconds. Default: 0.5ms to 30s,
	// fine at the low end where a proxy's overhead shows.
	Buckets []float64
	// NoRuntime leaves out the Go runtime and process collectors.
	NoRuntime bool
}

// DefaultBuckets spans a proxied loopback hit (sub-millisecond) to a cold
// start that runs into its timeout.
var DefaultBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// New returns a Set registered on a new private registry.
func New(o Options) *Set {
	if o.Buckets == nil {
		o.Buckets = DefaultBuckets
	}
	s := &Set{reg: prometheus.NewRegistry(), started: map[[2]string]bool{}}
	rb := []string{"route", "backend"}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "requests_total",
		Help: "Requests (http, stdio http) and connections (tcp, stdio stream) finished, by route, backend and status code (\"conn\" for connections).",
	}, []string{"route", "backend", "code"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "request_duration_seconds",
		Help:    "Time from a request's arrival to its end (connection lifetime for tcp and stdio stream), cold start included.",
		Buckets: o.Buckets,
	}, rb)
	s.coldStarts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "cold_starts_total", Help: "Backend process starts triggered by traffic or a restart policy.",
	}, rb)
	s.startFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "start_failures_total", Help: "Backend starts that failed (exit during start, start timeout).",
	}, rb)
	s.restarts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "restarts_total", Help: "Backend starts after the first one.",
	}, rb)
	s.events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "backend_events_total", Help: "Backend lifecycle events by name (start, ready, start_failed, exit, idle_stop, kill).",
	}, []string{"route", "backend", "event"})
	s.active = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "active_connections", Help: "Client connections open now, by route.",
	}, []string{"route"})
	s.reg.MustRegister(s.requests, s.latency, s.coldStarts, s.startFailures, s.restarts, s.events, s.active)
	if !o.NoRuntime {
		s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return s
}

// Registry is the Set's private registry, for an embedder that adds its own collectors.
func (s *Set) Registry() *prometheus.Registry { return s.reg }

// Handler serves the metrics in the Prometheus exposition format.
func (s *Set) Handler() http.Handler {
	return promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg})
}

// Request records one finished request (status > 0) or connection (status 0).
func (s *Set) Request(route, backend string, status int, d time.Duration) {
	code := "conn"
	if status > 0 {
		code = strconv.Itoa(status)
	}
	s.requests.WithLabelValues(route, backend, code).Inc()
	s.latency.WithLabelValues(route, backend).Observe(d.Seconds())
}

// BackendEvent records a backend lifecycle event.
func (s *Set) BackendEvent(route, backend, event string) {
	s.events.WithLabelValues(route, backend, event).Inc()
	switch event {
	case EventStart:
		s.coldStarts.WithLabelValues(route, backend).Inc()
		k := [2]string{route, backend}
		s.mu.Lock()
		again := s.started[k]
		s.started[k] = true
		s.mu.Unlock()
		if again {
			s.restarts.WithLabelValues(route, backend).Inc()
		}
	case EventStartFailed:
		s.startFailures.WithLabelValues(route, backend).Inc()
	}
}

// Conn adds delta (+1 open, -1 closed) to a route's active connections.
func (s *Set) Conn(route string, delta int) {
	s.active.WithLabelValues(route).Add(float64(delta))
}

// Forget drops every series of a route removed by a reload, so /metrics
// does not report routes that no longer exist.
func (s *Set) Forget(route string) {
	l := prometheus.Labels{"route": route}
	s.requests.DeletePartialMatch(l)
	s.latency.DeletePartialMatch(l)
	s.coldStarts.DeletePartialMatch(l)
	s.startFailures.DeletePartialMatch(l)
	s.restarts.DeletePartialMatch(l)
	s.events.DeletePartialMatch(l)
	s.active.DeletePartialMatch(l)
	s.mu.Lock()
	for k := range s.started {
		if k[0] == route {
			delete(s.started, k)
		}
	}
	s.mu.Unlock()
}
