package config

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// ParsePort parses a port written as GopherMesh writes it ("8080") and
// returns its number. Leading zeros, signs and spaces are refused so that one
// port has one spelling (and duplicate ports cannot hide).
func ParsePort(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != s {
		return 0, errFmt("want a port number 1-65535 written as a string such as \"8080\", got %q", s)
	}
	return n, nil
}

func sortPorts(ps []string) {
	slices.SortFunc(ps, func(a, b string) int {
		na, _ := strconv.Atoi(a)
		nb, _ := strconv.Atoi(b)
		return cmp.Or(cmp.Compare(na, nb), cmp.Compare(a, b))
	})
}

// Validate checks every rule that Decode cannot express with types and
// returns all the problems joined, each a *FieldError naming its path, in
// path order. A config that passes Validate can be run.
func (c Config) Validate() error {
	var errs []*FieldError
	add := func(path, format string, a ...any) { errs = append(errs, fieldErr(path, format, a...)) }

	if c.DashboardPort != "" {
		if _, err := ParsePort(c.DashboardPort); err != nil {
			add("dashboard_port", "%v", err)
		}
	}
	for i, o := range c.TrustedOrigins {
		if err := checkOrigin(o); err != nil {
			add(fmt.Sprintf("trusted_origins[%d]", i), "%v", err)
		}
	}
	if c.InternalPort != "" {
		if _, err := ParsePort(c.InternalPort); err != nil {
			add("internal_port", "%v", err)
		}
	}
	if c.Admin != nil {
		a := c.Admin
		switch a.Auth {
		case "", AuthToken:
		case AuthNone:
			if !IsLoopbackListen(c.AdminListen()) {
				add("admin.auth", "\"none\" is refused on a non-loopback address (%s): anyone on the network could reconfigure the gateway", c.AdminListen())
			}
		default:
			add("admin.auth", "unknown auth %q (want token or none)", a.Auth)
		}
		if a.Listen != "" {
			if p, ok := strings.CutPrefix(a.Listen, "unix:"); ok {
				if p == "" {
					add("admin.listen", "empty unix socket path")
				}
			} else if _, _, err := splitHostPort(a.Listen); err != nil {
				add("admin.listen", "%v", err)
			}
		}
	}

	// Public ports in use: routes, the admin listener, the dashboard.
	type owner struct{ path string }
	used := map[string]owner{}
	if !strings.HasPrefix(c.AdminListen(), "unix:") {
		if _, p, err := net.SplitHostPort(c.AdminListen()); err == nil {
			used[p] = owner{"admin"}
		}
	}
	for _, port := range c.Ports() {
		r := c.Routes[port]
		rp := "routes[" + strconv.Quote(port) + "]"
		if _, err := ParsePort(port); err != nil {
			add(rp, "%v", err)
			continue
		}
		if o, ok := used[port]; ok {
			add(rp, "port %s is already used by %s", port, o.path)
		}
		used[port] = owner{rp}
		c.validateRoute(rp, port, r, add)
	}
	if len(errs) == 0 {
		if err := c.checkLoops(); err != nil {
			errs = append(errs, err)
		}
		errs = append(errs, c.checkSocketAddrs()...)
	}
	if len(errs) == 0 {
		return nil
	}
	slices.SortStableFunc(errs, func(a, b *FieldError) int { return strings.Compare(a.Path, b.Path) })
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return errors.Join(out...)
}

func (c Config) validateRoute(rp, port string, r Route, add func(string, string, ...any)) {
	switch r.Protocol {
	case "", ProtocolHTTP, ProtocolTCP, ProtocolStdio:
	default:
		add(rp+".protocol", "unknown protocol %q (want http, tcp or stdio)", r.Protocol)
	}
	switch r.StdioMode {
	case "", StdioStream, StdioHTTP, StdioAuto:
	default:
		add(rp+".stdio_mode", "unknown stdio mode %q (want stream, http or auto)", r.StdioMode)
	}
	switch r.LoadBalance {
	case "", BalanceRoundRobin, BalanceLeastConn, BalanceIPHash:
	default:
		add(rp+".load_balance", "unknown policy %q (want round_robin, least_conn or ip_hash)", r.LoadBalance)
	}
	if r.Bind != "" && net.ParseIP(r.Bind) == nil {
		add(rp+".bind", "want an IP address such as \"127.0.0.1\" or \"0.0.0.0\", got %q", r.Bind)
	}
	if r.MaxBodyBytes < -1 {
		add(rp+".max_body_bytes", "want a byte count or -1 (unlimited), got %d", r.MaxBodyBytes)
	}
	if r.MaxOutputBytes < -1 {
		add(rp+".max_output_bytes", "want a byte count or -1 (unlimited), got %d", r.MaxOutputBytes)
	}
	if r.MaxPending < 0 {
		add(rp+".max_pending", "must not be negative, got %d", r.MaxPending)
	}
	validateNone(rp, r, add)
	if rd := r.Readiness; rd != nil {
		switch rd.Type {
		case "", ReadyTCP, ReadyNone:
			if rd.Path != "" {
				add(rp+".readiness.path", "a path is only used by readiness type http")
			}
		case ReadyHTTP:
			if rd.Path != "" && !strings.HasPrefix(rd.Path, "/") {
				add(rp+".readiness.path", "want a path starting with /, got %q", rd.Path)
			}
		case ReadySocket:
			if !r.Handoff {
				validateSocketReadiness(rp, r, add)
			}
		default:
			add(rp+".readiness.type", "unknown readiness type %q (want tcp, http, socket or none)", rd.Type)
		}
		if rd.Interval < 0 {
			add(rp+".readiness.interval", "must be a positive duration")
		}
	}
	if rs := r.Restart; rs != nil {
		switch rs.Policy {
		case "", RestartOnDemand, RestartOnFailure, RestartAlways, RestartNever:
		default:
			add(rp+".restart.policy", "unknown restart policy %q (want on_demand, on_failure, always or never)", rs.Policy)
		}
		if rs.MaxRetries < 0 {
			add(rp+".restart.max_retries", "must not be negative, got %d", rs.MaxRetries)
		}
		if rs.Backoff > 0 && rs.MaxBackoff > 0 && rs.MaxBackoff < rs.Backoff {
			add(rp+".restart.max_backoff", "%s is shorter than backoff %s", rs.MaxBackoff, rs.Backoff)
		}
	}
	if cs := r.CORS; cs != nil {
		switch cs.Mode {
		case "", CORSTrusted, CORSOff:
		case CORSAny:
			if cs.AllowCredentials {
				add(rp+".cors.allow_credentials", "credentials cannot be allowed for any origin (mode \"any\"); list the origins instead")
			}
		default:
			add(rp+".cors.mode", "unknown CORS mode %q (want trusted, any or off)", cs.Mode)
		}
		for i, o := range cs.Origins {
			if err := checkOrigin(o); err != nil {
				add(fmt.Sprintf("%s.cors.origins[%d]", rp, i), "%v", err)
			}
		}
		for i, m := range cs.AllowMethods {
			if !isToken(m) {
				add(fmt.Sprintf("%s.cors.allow_methods[%d]", rp, i), "not an HTTP method: %q", m)
			}
		}
		for i, h := range cs.AllowHeaders {
			if !isToken(h) {
				add(fmt.Sprintf("%s.cors.allow_headers[%d]", rp, i), "not an HTTP header name: %q", h)
			}
		}
		for i, h := range cs.ExposeHeaders {
			if !isToken(h) {
				add(fmt.Sprintf("%s.cors.expose_headers[%d]", rp, i), "not an HTTP header name: %q", h)
			}
		}
	}

	if r.Handoff {
		validateHandoff(rp, r, add)
	}
	proto := r.Protocol
	if proto == "" {
		proto = ProtocolHTTP
	}
	if len(r.Backends) == 0 {
		add(rp+".backends", "a route needs at least one backend")
	}
	names := map[string]int{}
	for i, b := range r.Backends {
		bp := fmt.Sprintf("%s.backends[%d]", rp, i)
		if b.Name != "" {
			if j, ok := names[b.Name]; ok {
				add(bp+".name", "duplicate backend name %q (also backends[%d])", b.Name, j)
			}
			names[b.Name] = i
		}
		if b.Weight < 0 {
			add(bp+".weight", "must not be negative, got %d", b.Weight)
		}
		for k, v := range b.Env {
			if k == "" || strings.ContainsAny(k, "=\x00") {
				add(bp+".env", "bad variable name %q", k)
			} else if strings.ContainsRune(v, 0) {
				add(fmt.Sprintf("%s.env[%q]", bp, k), "a NUL byte cannot be passed to a program")
			}
		}
		// execve(2) takes NUL-terminated strings: a NUL would make every
		// start fail later with a bare "invalid argument".
		if strings.ContainsRune(b.Cmd, 0) {
			add(bp+".cmd", "a NUL byte cannot be passed to a program")
		}
		for j, a := range b.Args {
			if strings.ContainsRune(a, 0) {
				add(fmt.Sprintf("%s.args[%d]", bp, j), "a NUL byte cannot be passed to a program")
			}
		}
		if strings.ContainsRune(b.Cwd, 0) {
			add(bp+".cwd", "a NUL byte cannot be a directory name")
		}
		if b.InternalPort != "" {
			if _, err := ParsePort(b.InternalPort); err != nil {
				add(bp+".internal_port", "%v", err)
			}
		}
		if b.InternalHost != "" && strings.ContainsAny(b.InternalHost, "/ ?#@") {
			add(bp+".internal_host", "want a host name or IP address, got %q", b.InternalHost)
		}
		switch b.Kind() {
		case KindInternal:
			if proto != ProtocolHTTP {
				add(bp+".cmd", "\"internal\" (the health handler) only serves http routes")
			}
		case KindProxy:
			if proto == ProtocolStdio {
				add(bp+".cmd", "a stdio route needs a program to run")
			} else if b.InternalPort == "" {
				add(bp+".internal_port", "a proxy backend (empty cmd) needs the port to forward to")
			}
			if len(b.Args) > 0 || len(b.Env) > 0 || b.Cwd != "" {
				add(bp+".cmd", "args, env and cwd need a cmd to run")
			}
		case KindProcess:
			if proto != ProtocolStdio && b.InternalPort == "" && !r.Handoff {
				add(bp+".internal_port", "the port the program listens on is required for %s routes", proto)
			}
			if proto == ProtocolStdio && b.InternalPort != "" {
				add(bp+".internal_port", "stdio backends talk over stdin/stdout; leave internal_port empty")
			}
		}
	}
}

// checkLoops refuses a route whose traffic comes back to itself: a proxy
// backend that targets the route's own listener, directly or through other
// routes. It runs after the per-field checks, so ports parse.
func (c Config) checkLoops() *FieldError {
	// edges: route port -> route ports its proxy backends reach.
	type edge struct {
		to   string
		path string
	}
	edges := map[string][]edge{}
	for _, port := range c.Ports() {
		r := c.Routes[port]
		for i, b := range r.Backends {
			if b.Kind() != KindProxy {
				continue
			}
			target, ok := c.Routes[b.InternalPort]
			if !ok || !c.reaches(b, target) {
				continue
			}
			edges[port] = append(edges[port], edge{b.InternalPort, fmt.Sprintf("routes[%q].backends[%d].internal_port", port, i)})
		}
	}
	// Depth-first search for a cycle; report the edge that closes it.
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var visit func(p string, via []string) *FieldError
	visit = func(p string, via []string) *FieldError {
		color[p] = grey
		for _, e := range edges[p] {
			switch color[e.to] {
			case grey:
				chain := append(slices.Clone(via), p, e.to)
				if e.to == p {
					return fieldErr(e.path, "the backend is the route itself (%s): requests would loop", c.Routes[p].ListenAddr(p))
				}
				return fieldErr(e.path, "routing loop through ports %s", strings.Join(chain[slices.Index(chain, e.to):], " -> "))
			case white:
				if err := visit(e.to, append(via, p)); err != nil {
					return err
				}
			}
		}
		color[p] = black
		return nil
	}
	for _, p := range c.Ports() {
		if color[p] == white {
			if err := visit(p, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// reaches reports whether proxy backend b's address is the listener of route t.
func (c Config) reaches(b Backend, t Route) bool {
	host := b.InternalHost
	if host == "" {
		host = DefaultInternalHost
	}
	bind := t.Bind
	if bind == "" {
		bind = DefaultBind
	}
	bip, tip := net.ParseIP(host), net.ParseIP(bind)
	if host == "localhost" {
		bip = net.IPv4(127, 0, 0, 1)
	}
	if bip == nil || tip == nil {
		return false // a name we do not resolve here: not provably a loop
	}
	if tip.IsUnspecified() {
		return bip.IsLoopback() || bip.IsUnspecified()
	}
	return bip.Equal(tip)
}

// checkOrigin accepts "scheme://host[:port]" with nothing after it, or "*".
func checkOrigin(o string) error {
	if o == "*" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return errFmt("want an origin such as \"https://app.example.com\" or \"http://localhost:3000\", got %q", o)
	}
	return nil
}

// validateNone refuses "none" for the durations where no limit has no
// meaning or would leave the gateway open to a slow or stuck peer; each
// would otherwise fall back to its default without a word.
func validateNone(rp string, r Route, add func(string, string, ...any)) {
	refuse := func(field string, d Duration, why string) {
		if d == Disabled {
			add(rp+"."+field, "\"none\" (or zero) is not allowed: %s; give a duration such as \"1h\"", why)
		}
	}
	refuse("start_timeout", r.StartTimeout, "a backend that never becomes ready would hold its requests for ever")
	refuse("stop_grace", r.StopGrace, "a stopping process is killed after this grace")
	refuse("read_header_timeout", r.ReadHeaderTimeout, "a client sending its headers slowly would hold a connection for ever")
	if r.Protocol == "" || r.Protocol == ProtocolHTTP {
		refuse("conn_idle_timeout", r.ConnIdleTimeout, "an idle keep-alive connection of an http route is closed after this time")
	}
	if rs := r.Restart; rs != nil {
		refuse("restart.backoff", rs.Backoff, "it is the delay before a failed backend is started again")
		refuse("restart.max_backoff", rs.MaxBackoff, "it caps the delay before a failed backend is started again")
	}
}

// isToken reports whether s is an RFC 9110 token (no control character,
// DEL, space, non-ASCII or separator).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r >= 127 || r <= ' ' || strings.ContainsRune("()<>@,;:\\\"/[]?={}", r) {
			return false
		}
	}
	return true
}

func splitHostPort(addr string) (string, string, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", "", errFmt("want host:port or unix:/path, got %q", addr)
	}
	if _, err := ParsePort(p); err != nil && p != "0" {
		return "", "", err
	}
	return h, p, nil
}

// IsLoopbackListen reports whether a listen address ("host:port" or
// "unix:/path") is reachable only from this machine.
func IsLoopbackListen(addr string) bool {
	if strings.HasPrefix(addr, "unix:") {
		return true
	}
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
