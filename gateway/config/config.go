package config

import (
	"net"
	"strconv"
	"strings"
	"time"
)

// Protocols of a route.
const (
	ProtocolHTTP  = "http"
	ProtocolTCP   = "tcp"
	ProtocolStdio = "stdio"
)

// Modes of a stdio route.
const (
	StdioStream = "stream" // one child per connection, stdin/stdout bridged to the connection
	StdioHTTP   = "http"   // one child per HTTP request, spoken to as CGI/1.1
	StdioAuto   = "auto"   // sniff the first bytes: an HTTP request line selects http, anything else stream
)

// Balancing policies.
const (
	BalanceRoundRobin = "round_robin"
	BalanceLeastConn  = "least_conn"
	BalanceIPHash     = "ip_hash"
)

// Readiness check types.
const (
	ReadyTCP  = "tcp"  // the backend is ready when its internal_port accepts a TCP connection
	ReadyHTTP = "http" // ... when GET <path> on it answers with a status below 500
	ReadyNone = "none" // ... as soon as the process has started
)

// Restart policies.
const (
	RestartOnDemand  = "on_demand"  // an exited backend goes dormant; the next request starts it (with backoff after failures)
	RestartOnFailure = "on_failure" // a backend that exits non-zero is restarted at once, with backoff
	RestartAlways    = "always"     // a backend that exits for any reason is restarted at once, with backoff
	RestartNever     = "never"      // a backend that failed stays failed until a reload or an admin kill
)

// CORS modes.
const (
	CORSTrusted = "trusted" // allow the config's trusted_origins plus the route's origins; refuse other origins
	CORSAny     = "any"     // allow every origin ("Access-Control-Allow-Origin: *", never with credentials)
	CORSOff     = "off"     // add no CORS headers and refuse nothing: the browser's same-origin policy applies
)

// Admin authentication modes.
const (
	AuthToken = "token" // every admin request carries "Authorization: Bearer <token>"
	AuthNone  = "none"  // no token; only allowed on a loopback address or a unix socket
)

// InternalCmd as a backend's cmd routes to the gateway's own health handler.
const InternalCmd = "internal"

// Defaults, each with the reason it was chosen. Normalized fills them in.
const (
	// DefaultDashboardHost keeps the admin API and dashboard off the network
	// unless the operator asks otherwise.
	DefaultDashboardHost = "127.0.0.1"
	// DefaultDashboardPort is an unprivileged port unlikely to collide with
	// the usual development servers (3000, 5000, 8000, 8080).
	DefaultDashboardPort = "9800"
	// DefaultBind keeps a route on loopback: exposing a port to the network is
	// an explicit decision ("bind": "0.0.0.0").
	DefaultBind = "127.0.0.1"
	// DefaultInternalHost is where a local backend listens.
	DefaultInternalHost = "127.0.0.1"
	// DefaultStartTimeout bounds a cold start: long enough for a JVM or an
	// interpreter to load, short enough that a broken backend answers 504
	// before a browser gives up.
	DefaultStartTimeout = 30 * time.Second
	// DefaultReadyInterval is how often readiness is polled during a start:
	// a loopback connect costs microseconds, and 10ms keeps the cold-start
	// overhead within the 5ms-on-average budget.
	DefaultReadyInterval = 10 * time.Millisecond
	// DefaultReadHeaderTimeout stops a slow client from pinning a listener
	// (slowloris) while leaving room for slow mobile links.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultSendTimeout closes an HTTP connection whose client has taken no
	// byte of its response for that long (nginx's send_timeout, also 60s):
	// a client that stops reading cannot pin a client and a backend
	// connection, while a slow link still moves some bytes per minute.
	DefaultSendTimeout = 60 * time.Second
	// DefaultConnIdleTimeout closes idle keep-alive connections: matches
	// common browser and proxy keep-alive windows (nginx 75s, Go 90s).
	DefaultConnIdleTimeout = 120 * time.Second
	// DefaultStdioRequestTimeout is the per-request deadline of a stdio http
	// (CGI) worker: a CGI program that runs longer is almost always stuck.
	DefaultStdioRequestTimeout = 30 * time.Second
	// DefaultStdioMaxOutput caps what one stdio http request may produce so a
	// runaway worker cannot fill memory or a client's disk.
	DefaultStdioMaxOutput = 64 << 20
	// DefaultStdioMaxBody caps a stdio http request body: CGI workers read
	// the whole body from stdin, usually into memory.
	DefaultStdioMaxBody = 10 << 20
	// DefaultMaxPending bounds the requests queued behind one cold start, so
	// a stampede waits in a bounded queue instead of exhausting memory.
	DefaultMaxPending = 1024
	// DefaultRestartBackoff is the first delay after a failed start; it
	// doubles up to DefaultRestartMaxBackoff so a crash loop costs little.
	DefaultRestartBackoff    = 500 * time.Millisecond
	DefaultRestartMaxBackoff = 30 * time.Second
	// DefaultStopGrace is how long a stopping backend gets between SIGTERM
	// and SIGKILL: enough to finish in-flight requests and flush logs.
	DefaultStopGrace = 10 * time.Second
	// DefaultTokenFile is where the admin bearer token is kept, relative to
	// the config file's directory, created 0600 at first start.
	DefaultTokenFile = "admin.token"
	// DefaultCORSMaxAge lets a browser cache a preflight answer for 10
	// minutes (Chrome's own cap is 2h): fewer OPTIONS round trips, and a
	// policy change still reaches browsers quickly.
	DefaultCORSMaxAge = 10 * time.Minute
	// DefaultWeight makes unweighted backends share equally.
	DefaultWeight = 1
)

// Config is a gateway configuration. It reads GopherMesh's config.json
// unchanged: the fields with GopherMesh's names keep their meaning; the
// others are warren's additions, all optional.
//
// Keys beginning with "//" are comments and ignored at every level, so a
// config file can document itself.
type Config struct {
	// DashboardHost and DashboardPort are where the admin API (and the
	// dashboard, when the daemon serves one) listens, unless admin.listen says
	// otherwise. Default 127.0.0.1:9800.
	DashboardHost string `json:"dashboard_host"`
	DashboardPort string `json:"dashboard_port"`
	// TrustedOrigins are the browser origins ("scheme://host[:port]") allowed
	// by CORS on routes in "trusted" mode and by the admin API.
	TrustedOrigins []string `json:"trusted_origins"`
	// ServiceName and InternalPort are GopherMesh's worker-role fields. They
	// are accepted and kept; ServiceName is reported by /healthz.
	ServiceName  string `json:"service_name,omitempty"`
	InternalPort string `json:"internal_port,omitempty"`
	// Routes are keyed by public port ("8080").
	Routes map[string]Route `json:"routes,omitempty"`

	// Admin configures the admin API (warren addition).
	Admin *Admin `json:"admin,omitempty"`
}

// Admin configures the admin API.
type Admin struct {
	// Listen is "host:port" or "unix:/path/to.sock". Default: dashboard_host:dashboard_port.
	Listen string `json:"listen,omitempty"`
	// Auth is "token" (default) or "none"; "none" is refused unless Listen is
	// a loopback address or a unix socket.
	Auth string `json:"auth,omitempty"`
	// TokenFile holds the bearer token (created 0600 at first start).
	// Relative paths are relative to the config file. Default "admin.token".
	TokenFile string `json:"token_file,omitempty"`
}

// Route is a public listener. Its key in Config.Routes is its port.
type Route struct {
	// GopherMesh fields.
	Name        string    `json:"name"`
	Protocol    string    `json:"protocol,omitempty"`     // http (default), tcp, stdio
	StdioMode   string    `json:"stdio_mode,omitempty"`   // stdio only: stream (default), http, auto
	LoadBalance string    `json:"load_balance,omitempty"` // round_robin (default), least_conn, ip_hash
	Backends    []Backend `json:"backends,omitempty"`

	// Bind is the IP address the route listens on. Default 127.0.0.1.
	Bind string `json:"bind,omitempty"`
	// Handoff (tcp routes) passes the route's listening socket itself to
	// the backend's program as fd 3 (systemd's socket-activation variables,
	// as readiness type socket does for an internal socket) instead of
	// proxying. The program accepts the connections: the gateway never
	// touches their bytes (direct speed, the client's own address). The
	// gateway still owns port and process: it starts the program when a
	// connection waits in the backlog (none is refused meanwhile), stops it
	// after idle_timeout without connections (counted from the kernel's
	// socket table; never while one is open), restarts it per the restart
	// policy, and closes the waiting connections when it cannot start it.
	// Needs exactly one backend with a cmd and no internal_port; balancing,
	// conn_idle_timeout and per-connection metrics do not apply.
	Handoff bool `json:"handoff,omitempty"`
	// StartTimeout bounds a backend's cold start (then 504). Default 30s.
	StartTimeout Duration `json:"start_timeout,omitempty"`
	// IdleTimeout stops a backend process after that long without traffic
	// (scale to zero); the next request starts it again. Default none: a
	// started backend keeps running.
	IdleTimeout Duration `json:"idle_timeout,omitempty"`
	// StopGrace is the time between SIGTERM and SIGKILL. Default 10s.
	StopGrace Duration `json:"stop_grace,omitempty"`
	// Readiness says how the gateway knows a started backend is ready.
	// Default: tcp for backends with an internal_port, none otherwise.
	Readiness *Readiness `json:"readiness,omitempty"`
	// Restart is what happens when a backend process exits.
	Restart *Restart `json:"restart,omitempty"`
	// RequestTimeout bounds one request end to end. Default: none for http
	// (streams and WebSockets live long), 30s for stdio http.
	RequestTimeout Duration `json:"request_timeout,omitempty"`
	// ReadHeaderTimeout bounds reading a request's headers. Default 10s.
	ReadHeaderTimeout Duration `json:"read_header_timeout,omitempty"`
	// SendTimeout closes an http route's client connection when a response
	// waiting for it makes no progress that long (the client reads
	// nothing): between two writes, not for the whole response, so
	// streams (SSE, downloads) are not cut. Default 60s.
	SendTimeout Duration `json:"send_timeout,omitempty"`
	// ConnIdleTimeout closes a client connection idle that long (HTTP
	// keep-alive; tcp and stdio stream: no byte either way). Default 120s
	// for http, none for tcp and stdio stream (SSH and database sessions idle
	// for hours).
	ConnIdleTimeout Duration `json:"conn_idle_timeout,omitempty"`
	// MaxBodyBytes caps a request body (413 beyond). Default: unlimited for
	// http, 10 MiB for stdio http. -1 means unlimited.
	MaxBodyBytes int64 `json:"max_body_bytes,omitempty"`
	// MaxOutputBytes caps what one stdio http request may write (the child
	// is killed beyond). Default 64 MiB. -1 means unlimited.
	MaxOutputBytes int64 `json:"max_output_bytes,omitempty"`
	// MaxPending bounds requests waiting for a cold start (503 beyond). Default 1024.
	MaxPending int `json:"max_pending,omitempty"`
	// CORS is the route's cross-origin policy (http and stdio http).
	CORS *CORS `json:"cors,omitempty"`
}

// Backend is one target of a route.
type Backend struct {
	// GopherMesh fields. Cmd empty: a pure proxy to internal_host:internal_port.
	// Cmd "internal": the gateway's own health handler. Otherwise a program
	// started on the first request (with Args), listening on internal_port
	// (http, tcp) or spoken to over stdin/stdout (stdio).
	Name         string   `json:"name,omitempty"`
	Cmd          string   `json:"cmd"`
	Args         []string `json:"args,omitempty"`
	InternalHost string   `json:"internal_host,omitempty"` // default 127.0.0.1
	InternalPort string   `json:"internal_port,omitempty"`

	// Env is added to the gateway's environment for the process.
	Env map[string]string `json:"env,omitempty"`
	// Cwd is the process's working directory. Default: the gateway's.
	Cwd string `json:"cwd,omitempty"`
	// Weight is the backend's share in round_robin and least_conn. Default 1.
	Weight int `json:"weight,omitempty"`
}

// Readiness is a route's readiness check.
type Readiness struct {
	Type     string   `json:"type,omitempty"`     // tcp, http, socket, none
	Path     string   `json:"path,omitempty"`     // http only; default "/"
	Interval Duration `json:"interval,omitempty"` // poll interval during start; default 10ms
}

// Restart is a route's restart policy.
type Restart struct {
	Policy     string   `json:"policy,omitempty"`      // on_demand (default), on_failure, always, never
	MaxRetries int      `json:"max_retries,omitempty"` // consecutive failed starts before "failed"; 0 = unlimited
	Backoff    Duration `json:"backoff,omitempty"`     // first delay after a failure; default 500ms
	MaxBackoff Duration `json:"max_backoff,omitempty"` // cap of the doubling delay; default 30s
}

// CORS is a route's cross-origin policy.
type CORS struct {
	Mode             string   `json:"mode,omitempty"`              // trusted (default), any, off
	Origins          []string `json:"origins,omitempty"`           // allowed in addition to trusted_origins
	AllowMethods     []string `json:"allow_methods,omitempty"`     // preflight; default GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS
	AllowHeaders     []string `json:"allow_headers,omitempty"`     // preflight; default: echo the requested headers
	ExposeHeaders    []string `json:"expose_headers,omitempty"`    // readable by the page
	AllowCredentials bool     `json:"allow_credentials,omitempty"` // cookies; never with mode any
	MaxAge           Duration `json:"max_age,omitempty"`           // preflight cache; default 10m
}

// Kinds of backend.
type BackendKind int

const (
	KindProcess  BackendKind = iota // a program the gateway starts
	KindProxy                       // a fixed address (cmd empty)
	KindInternal                    // the gateway's health handler (cmd "internal")
)

func (k BackendKind) String() string {
	switch k {
	case KindProxy:
		return "proxy"
	case KindInternal:
		return "internal"
	}
	return "process"
}

// Kind says what the backend is.
func (b Backend) Kind() BackendKind {
	switch b.Cmd {
	case "":
		return KindProxy
	case InternalCmd:
		return KindInternal
	}
	return KindProcess
}

// Addr is the backend's dial address, host defaulting to 127.0.0.1. It is
// "" for stdio and internal backends.
func (b Backend) Addr() string {
	if b.InternalPort == "" {
		return ""
	}
	h := b.InternalHost
	if h == "" {
		h = DefaultInternalHost
	}
	return net.JoinHostPort(h, b.InternalPort)
}

// ListenAddr is the address the route listens on ("127.0.0.1:8080").
func (r Route) ListenAddr(port string) string {
	b := r.Bind
	if b == "" {
		b = DefaultBind
	}
	return net.JoinHostPort(b, port)
}

// DashboardAddr is dashboard_host:dashboard_port with defaults.
func (c Config) DashboardAddr() string {
	h, p := c.DashboardHost, c.DashboardPort
	if h == "" {
		h = DefaultDashboardHost
	}
	if p == "" {
		p = DefaultDashboardPort
	}
	return net.JoinHostPort(h, p)
}

// AdminListen is where the admin API listens: admin.listen or the dashboard address.
func (c Config) AdminListen() string {
	if c.Admin != nil && c.Admin.Listen != "" {
		return c.Admin.Listen
	}
	return c.DashboardAddr()
}

// Ports returns the route ports in ascending numeric order.
func (c Config) Ports() []string {
	ps := make([]string, 0, len(c.Routes))
	for p := range c.Routes {
		ps = append(ps, p)
	}
	sortPorts(ps)
	return ps
}

// BackendName is the name that identifies backend i of a route in status,
// logs and diffs: its name, or "#i" when it has none.
func BackendName(b Backend, i int) string {
	if b.Name != "" {
		return b.Name
	}
	return "#" + strconv.Itoa(i)
}

// Duration is a time.Duration written as a Go duration string ("30s",
// "1m30s"). "none" (or "off") disables the limit it sets; it is stored as
// Disabled, and so is zero ("0s"). A bare number is refused: a unit must
// be explicit.
type Duration time.Duration

// Disabled is the value of a Duration written as "none".
const Disabled Duration = -1

// Std returns the duration, with Disabled (or any negative) as 0, meaning "no limit".
func (d Duration) Std() time.Duration {
	if d < 0 {
		return 0
	}
	return time.Duration(d)
}

// MarshalText writes "30s" or "none".
func (d Duration) MarshalText() ([]byte, error) {
	if d < 0 {
		return []byte("none"), nil
	}
	return []byte(time.Duration(d).String()), nil
}

// UnmarshalText reads a Go duration string or "none"/"off".
func (d *Duration) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	switch s {
	case "none", "off":
		*d = Disabled
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return errFmt("want a duration such as \"30s\" or \"none\", got %q", s)
	}
	if v < 0 {
		return errFmt("negative duration %q", s)
	}
	if v == 0 {
		// Zero means no limit, as "none" (and is refused where no limit
		// is: validateNone). Stored as 0 it could not be told from an
		// absent field and silently meant the default ("start_timeout":
		// "0s" was 30s).
		*d = Disabled
		return nil
	}
	*d = Duration(v)
	return nil
}

// String is the text form.
func (d Duration) String() string {
	b, _ := d.MarshalText()
	return string(b)
}
