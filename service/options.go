package service

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/warren-mesh/warren/service/discovery"
	"github.com/warren-mesh/warren/service/transport"
)

// Option configures a Server or a Client. Options that make no sense for
// one of them are ignored by it.
type Option func(*config)

type backend struct {
	reg discovery.Registry
	tr  transport.Transport
}

type config struct {
	scope           Scope
	scopeSet        bool
	log             *slog.Logger
	socketDir       string
	socketGroup     int // > 0: share OS-scope publications with this gid (WithSocketGroup)
	providerID      string
	minWorkers      int
	maxWorkers      int
	idleTimeout     time.Duration
	maxFrame        int
	discoverTimeout time.Duration
	procReg         discovery.Registry
	backends        map[Scope]backend
	allowUIDs       map[uint32]bool
	allowGIDs       map[uint32]bool
}

// processTable is the Process scope registry shared by every Server and
// Client of this OS process that is not given WithProcessRegistry: jobs in
// one group process find each other through it.
var processTable = discovery.NewTable()

func newConfig(server bool, opts []Option) *config {
	c := &config{
		log:             slog.New(slog.DiscardHandler),
		minWorkers:      0,
		maxWorkers:      1024,
		idleTimeout:     2 * time.Second,
		discoverTimeout: 0,
		procReg:         processTable,
		backends:        map[Scope]backend{},
	}
	for _, o := range opts {
		o(c)
	}
	if !c.scopeSet {
		if server {
			c.scope = ScopeProcess | ScopeOS
		} else {
			c.scope = ScopeAll
		}
	}
	if c.providerID == "" {
		var b [6]byte
		rand.Read(b[:])
		c.providerID = hex.EncodeToString(b[:])
	}
	if _, ok := c.backends[ScopeOS]; !ok {
		dir := c.socketDir
		if dir == "" {
			dir = discovery.DefaultSocketDir()
		}
		c.backends[ScopeOS] = backend{reg: &discovery.SocketDir{Dir: dir, Group: c.socketGroup}, tr: transport.Unix{Group: c.socketGroup}}
	}
	if c.maxWorkers < 1 {
		c.maxWorkers = 1
	}
	if c.minWorkers > c.maxWorkers {
		c.minWorkers = c.maxWorkers
	}
	return c
}

// WithScope sets where a server publishes (default Process|OS) or where a
// client looks (default all scopes that have a backend).
func WithScope(s Scope) Option { return func(c *config) { c.scope, c.scopeSet = s, true } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.log = l
		}
	}
}

// WithSocketDir sets the OS scope's socket directory (default
// $XDG_RUNTIME_DIR/warren, else /tmp/warren-$UID). It is created with mode
// 0700 and must belong to the current user.
func WithSocketDir(dir string) Option { return func(c *config) { c.socketDir = dir } }

// WithProviderID sets the server's provider ID, normally the node ID
// (default: 12 random hex characters).
func WithProviderID(id string) Option { return func(c *config) { c.providerID = id } }

// WithMaxWorkers caps the server's worker pool (default 1024).
func WithMaxWorkers(n int) Option { return func(c *config) { c.maxWorkers = n } }

// WithMinWorkers keeps n workers alive when idle (default 0).
func WithMinWorkers(n int) Option { return func(c *config) { c.minWorkers = n } }

// WithWorkerIdleTimeout sets how long an idle worker waits for work before
// it exits (default 2s).
func WithWorkerIdleTimeout(d time.Duration) Option { return func(c *config) { c.idleTimeout = d } }

// WithMaxFrameSize sets the largest frame accepted or sent on byte-stream
// scopes (default 16 MiB).
func WithMaxFrameSize(n int) Option { return func(c *config) { c.maxFrame = n } }

// WithDiscoverTimeout sets how long Discover waits for a service to
// appear: 0 answers at once, a negative value waits until ctx ends.
func WithDiscoverTimeout(d time.Duration) Option { return func(c *config) { c.discoverTimeout = d } }

// WithProcessRegistry replaces the per-process Process scope registry, so
// a test can run isolated "processes" side by side.
func WithProcessRegistry(r discovery.Registry) Option { return func(c *config) { c.procReg = r } }

// WithBackend sets the registry and transport of a byte-stream scope (OS,
// LAN or WAN), e.g. discovery.NewTable() with &transport.Mem{} in tests.
func WithBackend(s Scope, r discovery.Registry, t transport.Transport) Option {
	return func(c *config) { c.backends[s] = backend{reg: r, tr: t} }
}

// WithSocketGroup shares what a server publishes in OS scope with a Unix
// group: the socket directory and its publisher directory (0750), lock
// file (0640) and socket (0660) belong to gid, so members of that group may
// discover and connect (the directories above the socket directory must
// let them through). Handlers still see every caller's credentials;
// restrict callers with WithAllowedUIDs/WithAllowedGIDs or in the handler.
func WithSocketGroup(gid int) Option { return func(c *config) { c.socketGroup = gid } }

// WithAllowedUIDs restricts OS scope peers to these user IDs (checked with
// SO_PEERCRED at accept). Without it and WithAllowedGIDs, the socket's mode
// (0600, in a 0700 directory) decides.
func WithAllowedUIDs(uids ...uint32) Option {
	return func(c *config) {
		if c.allowUIDs == nil {
			c.allowUIDs = map[uint32]bool{}
		}
		for _, u := range uids {
			c.allowUIDs[u] = true
		}
	}
}

// WithAllowedGIDs restricts OS scope peers to these group IDs; a peer
// passes if its uid or its gid is allowed.
func WithAllowedGIDs(gids ...uint32) Option {
	return func(c *config) {
		if c.allowGIDs == nil {
			c.allowGIDs = map[uint32]bool{}
		}
		for _, g := range gids {
			c.allowGIDs[g] = true
		}
	}
}
