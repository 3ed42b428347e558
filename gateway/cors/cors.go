// Package cors owns the gateway's per-route cross-origin policy. Decide
// looks at a request's Origin (and, for a preflight, the requested method
// and headers) and says whether to pass it on, answer it, or refuse it, and
// which headers the response must carry. The gateway, not the backend, has
// the last word: Apply removes any Access-Control-* header a backend set, so
// a response carries exactly one Access-Control-Allow-Origin, always with
// "Vary: Origin". Decide is framework-neutral (the engine's fasthttp path
// uses it); Middleware wraps a net/http handler.
package cors

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/warren-mesh/warren/gateway/config"
)

// Policy is one route's CORS policy. Build it with FromConfig or set the
// fields; it is read-only afterwards and safe for concurrent use.
type Policy struct {
	Mode             string   // config.CORSTrusted (default), CORSAny, CORSOff
	Origins          []string // allowed origins in trusted mode; "*" allows any (without credentials)
	AllowMethods     []string // preflight: methods allowed; empty = GET, HEAD, POST
	AllowHeaders     []string // preflight: request headers allowed; empty = those requested
	ExposeHeaders    []string
	AllowCredentials bool
	MaxAge           time.Duration
}

// FromConfig builds a route's policy from the config's trusted_origins and
// the route's (normalized or not) cors object.
func FromConfig(trusted []string, c *config.CORS) *Policy {
	p := &Policy{Mode: config.CORSTrusted, Origins: slices.Clone(trusted)}
	if c == nil {
		return p
	}
	if c.Mode != "" {
		p.Mode = c.Mode
	}
	p.Origins = append(p.Origins, c.Origins...)
	p.AllowMethods = slices.Clone(c.AllowMethods)
	p.AllowHeaders = slices.Clone(c.AllowHeaders)
	p.ExposeHeaders = slices.Clone(c.ExposeHeaders)
	p.AllowCredentials = c.AllowCredentials
	p.MaxAge = c.MaxAge.Std()
	return p
}

// Result is what to do with a request.
type Result int

const (
	// Pass: forward the request; apply Decision.Header to the response.
	Pass Result = iota
	// Preflight: answer the request now with Decision.Status and Decision.Header.
	Preflight
	// Refuse: answer with 403 and Decision.Reason; forward nothing.
	Refuse
)

func (r Result) String() string {
	return [...]string{"pass", "preflight", "refuse"}[r]
}

// Decision is Decide's verdict.
type Decision struct {
	Result Result
	Status int         // Preflight: 204; Refuse: 403; Pass: 0
	Header http.Header // headers the response must carry (set, replacing the backend's)
	Reason string      // Refuse: why, safe to show the client
	// Strip is true when the backend's own Access-Control-* headers must be
	// removed from the response (every mode but off).
	Strip bool
}

// Request is the part of a request Decide needs.
type Request struct {
	Method string
	Host   string // Host header
	TLS    bool
	Origin string // "" when absent
	// Preflight headers.
	RequestMethod  string // Access-Control-Request-Method
	RequestHeaders string // Access-Control-Request-Headers
}

// FromHTTP extracts a Request from an *http.Request.
func FromHTTP(r *http.Request) Request {
	return Request{
		Method:         r.Method,
		Host:           r.Host,
		TLS:            r.TLS != nil,
		Origin:         r.Header.Get("Origin"),
		RequestMethod:  r.Header.Get("Access-Control-Request-Method"),
		RequestHeaders: r.Header.Get("Access-Control-Request-Headers"),
	}
}

var defaultMethods = []string{"GET", "HEAD", "POST"}

// Decide applies the policy to one request.
func (p *Policy) Decide(r Request) Decision {
	if p.Mode == config.CORSOff {
		return Decision{Result: Pass}
	}
	d := Decision{Header: http.Header{}, Strip: true}
	d.Header.Set("Vary", "Origin")
	if r.Origin == "" || sameOrigin(r.Origin, r.Host, r.TLS) {
		// Not a cross-origin request: nothing to allow. (A same-origin
		// preflight does not happen; if one does, the backend answers it.)
		return d
	}
	star := p.Mode == config.CORSAny
	if !star {
		allowed := false
		for _, o := range p.Origins {
			if o == "*" {
				star = true
			} else if strings.EqualFold(strings.TrimSuffix(o, "/"), r.Origin) {
				allowed = true
			}
		}
		if allowed {
			star = false // an explicitly listed origin is reflected (credentials possible)
		} else if !star {
			return refuse(d, fmt.Sprintf("origin %s is not allowed on this route", r.Origin))
		}
	}
	if star {
		d.Header.Set("Access-Control-Allow-Origin", "*")
	} else {
		d.Header.Set("Access-Control-Allow-Origin", r.Origin)
		if p.AllowCredentials {
			d.Header.Set("Access-Control-Allow-Credentials", "true")
		}
	}
	isPreflight := r.Method == http.MethodOptions && r.RequestMethod != ""
	if !isPreflight {
		if len(p.ExposeHeaders) > 0 {
			d.Header.Set("Access-Control-Expose-Headers", strings.Join(p.ExposeHeaders, ", "))
		}
		return d
	}
	methods := p.AllowMethods
	if len(methods) == 0 {
		methods = defaultMethods
	}
	if !slices.Contains(methods, strings.ToUpper(r.RequestMethod)) && !slices.Contains(defaultMethods, r.RequestMethod) {
		return refuse(d, fmt.Sprintf("method %s is not allowed on this route", r.RequestMethod))
	}
	var reqHeaders []string
	for _, h := range strings.Split(r.RequestHeaders, ",") {
		if h = strings.TrimSpace(h); h != "" {
			reqHeaders = append(reqHeaders, h)
		}
	}
	if len(p.AllowHeaders) > 0 {
		for _, h := range reqHeaders {
			if !slices.ContainsFunc(p.AllowHeaders, func(a string) bool { return strings.EqualFold(a, h) }) {
				return refuse(d, fmt.Sprintf("request header %s is not allowed on this route", h))
			}
		}
	}
	d.Result, d.Status = Preflight, http.StatusNoContent
	d.Header.Set("Access-Control-Allow-Methods", strings.Join(methods, ", "))
	if len(reqHeaders) > 0 {
		d.Header.Set("Access-Control-Allow-Headers", strings.Join(reqHeaders, ", "))
	}
	if p.MaxAge > 0 {
		d.Header.Set("Access-Control-Max-Age", strconv.Itoa(int(p.MaxAge/time.Second)))
	}
	d.Header.Add("Vary", "Access-Control-Request-Method")
	d.Header.Add("Vary", "Access-Control-Request-Headers")
	return d
}

func refuse(d Decision, reason string) Decision {
	h := http.Header{}
	h.Set("Vary", "Origin")
	return Decision{Result: Refuse, Status: http.StatusForbidden, Header: h, Reason: reason, Strip: true}
}

// stripped are the response headers only the gateway may set.
var stripped = []string{
	"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Allow-Methods",
	"Access-Control-Allow-Headers", "Access-Control-Expose-Headers", "Access-Control-Max-Age",
}

// Apply makes response headers h follow the decision: the backend's CORS
// headers are removed (unless the mode is off), the decision's headers set,
// and Vary values merged (never duplicated).
func (d Decision) Apply(h http.Header) {
	if d.Strip {
		for _, k := range stripped {
			h.Del(k)
		}
	}
	for k, vs := range d.Header {
		if k == "Vary" {
			for _, v := range vs {
				addVary(h, v)
			}
			continue
		}
		h[k] = slices.Clone(vs)
	}
}

func addVary(h http.Header, v string) {
	for _, line := range h.Values("Vary") {
		for _, f := range strings.Split(line, ",") {
			if f = strings.TrimSpace(f); f == "*" || strings.EqualFold(f, v) {
				return
			}
		}
	}
	h.Add("Vary", v)
}

// Middleware enforces the policy in front of next: refused requests get 403,
// preflights are answered here, and passed requests' responses get the
// decision's headers whatever next set.
func (p *Policy) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := p.Decide(FromHTTP(r))
		switch d.Result {
		case Refuse:
			d.Apply(w.Header())
			http.Error(w, "403 forbidden: "+d.Reason, http.StatusForbidden)
			return
		case Preflight:
			d.Apply(w.Header())
			w.WriteHeader(d.Status)
			return
		}
		if p.Mode == config.CORSOff {
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(&writer{ResponseWriter: w, d: d}, r)
	})
}

// writer applies the decision to the headers just before they are sent.
type writer struct {
	http.ResponseWriter
	d       Decision
	applied bool
}

func (w *writer) apply() {
	if !w.applied {
		w.applied = true
		w.d.Apply(w.ResponseWriter.Header())
	}
}

func (w *writer) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		w.apply()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *writer) Write(b []byte) (int, error) {
	w.apply()
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush, Hijack and deadlines.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush sends buffered data (streaming responses).
func (w *writer) Flush() {
	w.apply()
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// sameOrigin reports whether origin names the server the request was sent to.
func sameOrigin(origin, host string, tls bool) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	scheme := "http"
	if tls {
		scheme = "https"
	}
	if !strings.EqualFold(u.Scheme, scheme) {
		return false
	}
	return strings.EqualFold(withPort(u.Host, scheme), withPort(host, scheme))
}

func withPort(hostport, scheme string) string {
	if strings.LastIndex(hostport, ":") > strings.LastIndex(hostport, "]") {
		return hostport
	}
	if scheme == "https" {
		return hostport + ":443"
	}
	return hostport + ":80"
}
