package gateway

import (
	"net/http"
	"slices"
	"time"

	"github.com/warren-mesh/warren/gateway/backend"
	"github.com/warren-mesh/warren/gateway/config"
	"github.com/warren-mesh/warren/gateway/cors"
	"github.com/warren-mesh/warren/gateway/stdio"
)

// stdioServer builds a stdio route's server (package gateway/stdio): one
// child per connection (stream) or per request (http, CGI/1.1), started
// through proc. A stdio route runs its first backend's program; the
// backend object carries its logs (the children's stderr) and counters.
func (e *Engine) stdioServer(port string, rc config.Route, trusted []string, bs []*backend.Backend) *stdio.Server {
	bc := rc.Backends[0]
	env := make([]string, 0, len(bc.Env))
	keys := make([]string, 0, len(bc.Env))
	for k := range bc.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		env = append(env, k+"="+bc.Env[k])
	}
	s := &stdio.Server{
		Path:              bc.Cmd,
		Args:              bc.Args,
		Env:               env,
		Dir:               bc.Cwd,
		Mode:              rc.StdioMode,
		RequestTimeout:    rc.RequestTimeout.Std(),
		ConnIdleTimeout:   rc.ConnIdleTimeout.Std(),
		ReadHeaderTimeout: rc.ReadHeaderTimeout.Std(),
		Grace:             rc.StopGrace.Std(),
		Log:               e.log,
	}
	if rc.MaxOutputBytes > 0 {
		s.MaxOutput = rc.MaxOutputBytes
	}
	if rc.MaxBodyBytes > 0 {
		s.MaxBody = rc.MaxBodyBytes
	}
	var b *backend.Backend
	if len(bs) > 0 {
		b = bs[0]
		s.Stderr = b.LogWriter()
	}
	obs := e.observer()
	name := config.BackendName(bc, 0)
	if obs != nil {
		s.OnStart = func() { obs.BackendEvent(port, name, "start") }
		s.OnExit = func(code int, _ time.Duration) {
			if code != 0 {
				obs.BackendEvent(port, name, "exit")
			}
		}
	}
	pol := cors.FromConfig(trusted, rc.CORS)
	s.Middleware = func(next http.Handler) http.Handler {
		h := pol.Middleware(next)
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w, code: 200}
			h.ServeHTTP(sw, req)
			if obs != nil {
				obs.Request(port, name, sw.code, time.Since(start))
			}
		})
	}
	return s
}

// statusWriter remembers the status code for metrics; it forwards Flush so
// CGI bodies keep streaming.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
