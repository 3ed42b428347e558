package gateway

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/warren-mesh/warren/gateway/backend"
)

// DefaultServiceName is reported by /healthz when the config has no service_name.
const DefaultServiceName = "warren-gateway"

// reservedHealthKeys stay under the engine's control in /healthz.
var reservedHealthKeys = []string{"status", "service", "version", "role", "id", "uptime_seconds", "routes", "time"}

// Health returns the /healthz payload: GopherMesh's fields (status,
// service, version, role) plus warren's, plus Options.HealthExtra, whose
// keys cannot override the reserved ones.
func (e *Engine) Health() map[string]any {
	m := map[string]any{}
	if e.opts.HealthExtra != nil {
		for k, v := range e.opts.HealthExtra() {
			m[k] = v
		}
	}
	e.mu.Lock()
	svc := e.cfg.ServiceName
	nroutes := len(e.routes)
	e.mu.Unlock()
	if svc == "" {
		svc = DefaultServiceName
	}
	ver := e.opts.Version
	if ver == "" {
		ver = "dev"
	}
	m["status"] = "ok"
	m["service"] = svc
	m["version"] = ver
	m["role"] = "gateway"
	m["id"] = e.id
	m["uptime_seconds"] = int64(time.Since(e.started).Seconds())
	m["routes"] = nroutes
	m["time"] = time.Now().UTC().Format(time.RFC3339)
	return m
}

// Readiness is the /readyz payload.
type Readiness struct {
	Ready  bool                      `json:"ready"`
	Routes map[string]RouteReadiness `json:"routes"`
}

// RouteReadiness is one route's part of /readyz.
type RouteReadiness struct {
	Ready    bool                     `json:"ready"`
	Backends map[string]backend.State `json:"backends"`
}

// Ready reports, per route, whether it is listening and has at least one
// backend that can take a request now or after a cold start (dormant
// counts as ready: it starts on demand; failed in backoff and stopped do
// not).
func (e *Engine) Ready() Readiness {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := Readiness{Ready: e.running && !e.closed, Routes: map[string]RouteReadiness{}}
	for port, r := range e.routes {
		rr := RouteReadiness{Backends: map[string]backend.State{}}
		for _, b := range r.backends {
			rr.Backends[b.Name()] = b.State()
			if b.Available() {
				rr.Ready = true
			}
		}
		rr.Ready = rr.Ready && r.ln != nil
		out.Ready = out.Ready && rr.Ready
		out.Routes[port] = rr
	}
	return out
}

// HealthHandler serves /healthz and /readyz (and /healthz at "/") as a
// net/http handler, for the admin server or any embedder.
func (e *Engine) HealthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		code, body := e.healthResponse(req.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		w.Write(body)
	})
}

func (e *Engine) healthResponse(path string) (int, []byte) {
	switch path {
	case "/", "/healthz":
		b, _ := json.Marshal(e.Health())
		return http.StatusOK, b
	case "/readyz":
		rd := e.Ready()
		b, _ := json.Marshal(rd)
		if !rd.Ready {
			return http.StatusServiceUnavailable, b
		}
		return http.StatusOK, b
	}
	return http.StatusNotFound, []byte(`{"error":"not found; try /healthz or /readyz"}`)
}

// healthFast is the "internal" backend on the HTTP data path.
func (e *Engine) healthFast(ctx *fasthttp.RequestCtx) {
	code, body := e.healthResponse(string(ctx.Path()))
	ctx.Response.Reset()
	ctx.SetStatusCode(code)
	ctx.SetContentType("application/json")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetBody(body)
}
