package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/warren-mesh/warren/internal/logging"
	"github.com/warren-mesh/warren/service/discovery"
)

// Client discovers services and connects to them. It holds no connections
// or goroutines itself; each Conn it returns must be closed.
type Client struct {
	cfg *config
	log *slog.Logger
}

// NewClient returns a client.
func NewClient(opts ...Option) *Client {
	cfg := newConfig(false, opts)
	return &Client{cfg: cfg, log: cfg.log.With(logging.KeyComponent, "service")}
}

// ServiceInfo describes one provider of a service, as List reports it.
type ServiceInfo struct {
	Publisher  string `json:"publisher"`
	Service    string `json:"service"`
	ProviderID string `json:"provider"`
	Scopes     Scope  `json:"scopes"`
}

func (c *Client) registry(sc Scope) (discovery.Registry, bool) {
	if c.cfg.scope&sc == 0 {
		return nil, false
	}
	if sc == ScopeProcess {
		return c.cfg.procReg, c.cfg.procReg != nil
	}
	be, ok := c.cfg.backends[sc]
	return be.reg, ok
}

// Discover connects to the nearest provider of {publisher, name}, looking
// in the client's scopes nearest first (Process, OS, LAN, WAN). With a
// discover timeout of 0 it answers at once; otherwise it waits up to the
// timeout (forever if negative) for the service to appear. The error wraps
// ErrNotFound when no provider was reachable.
func (c *Client) Discover(ctx context.Context, publisher, name string) (*Conn, error) {
	conns, err := c.discover(ctx, publisher, name, false)
	if err != nil {
		return nil, err
	}
	return conns[0], nil
}

// DiscoverAll connects to every reachable provider of {publisher, name},
// nearest first, one Conn per provider (its nearest scope). It waits like
// Discover until at least one is found.
func (c *Client) DiscoverAll(ctx context.Context, publisher, name string) ([]*Conn, error) {
	return c.discover(ctx, publisher, name, true)
}

func (c *Client) discover(ctx context.Context, publisher, name string, all bool) ([]*Conn, error) {
	op := "service: discover " + publisher + "/" + name
	if err := validateNames("service: discover", publisher, name); err != nil {
		return nil, err
	}
	var deadline <-chan time.Time
	if t := c.cfg.discoverTimeout; t > 0 {
		timer := time.NewTimer(t)
		defer timer.Stop()
		deadline = timer.C
	}
	wait := 5 * time.Millisecond
	var lastErr error
	for {
		conns, err := c.tryOnce(ctx, publisher, name, all)
		if len(conns) > 0 {
			return conns, nil
		}
		if err != nil {
			lastErr = err
		}
		if c.cfg.discoverTimeout == 0 {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%s: %w: %w", op, ErrNotFound, ctx.Err())
		case <-deadline:
			t.Stop()
			return nil, c.notFound(op, lastErr)
		case <-t.C:
		}
		if wait < 100*time.Millisecond {
			wait *= 2
		}
	}
	return nil, c.notFound(op, lastErr)
}

func (c *Client) notFound(op string, lastErr error) error {
	if lastErr != nil {
		return fmt.Errorf("%s: %w in scopes %s (last error: %v)", op, ErrNotFound, c.cfg.scope, lastErr)
	}
	return fmt.Errorf("%s: %w in scopes %s", op, ErrNotFound, c.cfg.scope)
}

func (c *Client) tryOnce(ctx context.Context, publisher, name string, all bool) ([]*Conn, error) {
	var conns []*Conn
	var errs []error
	seen := map[string]bool{}
	for _, sc := range scopeOrder {
		reg, ok := c.registry(sc)
		if !ok {
			continue
		}
		recs, err := reg.Lookup(ctx, publisher, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, rec := range recs {
			if seen[rec.ProviderID] && rec.ProviderID != "" {
				continue
			}
			conn, err := c.connect(ctx, sc, rec)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			seen[rec.ProviderID] = true
			conns = append(conns, conn)
			if !all {
				return conns, nil
			}
		}
	}
	return conns, errors.Join(errs...)
}

func (c *Client) connect(ctx context.Context, sc Scope, rec discovery.Record) (*Conn, error) {
	conn := &Conn{scope: sc, provider: rec.ProviderID}
	if sc == ScopeProcess {
		sv, ok := rec.Local.(*service)
		if !ok {
			return nil, fmt.Errorf("service: connect: process record without endpoint")
		}
		pc, err := sv.connect()
		if err != nil {
			return nil, err
		}
		conn.pc = pc
		return conn, nil
	}
	be := c.cfg.backends[sc]
	nc, err := be.tr.Dial(ctx, rec.Addr)
	if err != nil {
		return nil, err
	}
	conn.wc = newWireConn(nc, c.log, c.cfg.maxFrame, nil)
	conn.wc.start()
	return conn, nil
}

// List returns every visible service whose "publisher/service" matches
// pattern (a glob; "" matches all; a pattern without "/" matches the
// publisher or the service), one entry per provider with the scopes it is
// visible in, sorted by name.
func (c *Client) List(ctx context.Context, pattern string) ([]ServiceInfo, error) {
	type key struct{ p, s, id string }
	m := map[key]*ServiceInfo{}
	var errs []error
	for _, sc := range scopeOrder {
		reg, ok := c.registry(sc)
		if !ok {
			continue
		}
		recs, err := reg.List(ctx, pattern)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, r := range recs {
			k := key{r.Publisher, r.Service, r.ProviderID}
			if si, ok := m[k]; ok {
				si.Scopes |= sc
				continue
			}
			m[k] = &ServiceInfo{Publisher: r.Publisher, Service: r.Service, ProviderID: r.ProviderID, Scopes: sc}
		}
	}
	out := make([]ServiceInfo, 0, len(m))
	for _, si := range m {
		out = append(out, *si)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Publisher != b.Publisher {
			return a.Publisher < b.Publisher
		}
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		return a.ProviderID < b.ProviderID
	})
	if len(out) == 0 && len(errs) > 0 {
		return nil, fmt.Errorf("service: list: %w", errors.Join(errs...))
	}
	return out, nil
}

// Conn is a connection to one provider of a service. Its methods use a
// default stream (Send, Recv) or a pooled stream per call (SendRecv, safe
// for concurrent use); NewStream opens more streams over the same
// connection. Close it when done.
type Conn struct {
	scope    Scope
	provider string
	wc       *wireConn
	pc       *procConn
	def      *Stream
}

// ProviderID returns the provider's ID (normally its node ID).
func (c *Conn) ProviderID() string { return c.provider }

// Scope returns the scope the connection runs in.
func (c *Conn) Scope() Scope { return c.scope }

// NewStream opens a stream multiplexed over the connection.
func (c *Conn) NewStream() *Stream {
	if c.wc != nil {
		return c.wc.newStream()
	}
	return c.pc.newStream()
}

func (c *Conn) defStream() *Stream {
	if c.def == nil {
		c.def = c.NewStream()
	}
	return c.def
}

// Send sends msg on the connection's default stream.
func (c *Conn) Send(ctx context.Context, msg any) error {
	return c.defStream().SendContext(ctx, msg)
}

// Recv receives the next value on the default stream into the variable
// reply points to; an error reply is returned as the error.
func (c *Conn) Recv(ctx context.Context, reply any) error {
	return c.defStream().RecvContext(ctx, reply)
}

// SendRecv sends msg and waits for its reply, on a stream of its own, so
// concurrent calls do not mix up replies.
func (c *Conn) SendRecv(ctx context.Context, msg, reply any) error {
	var st *Stream
	if c.wc != nil {
		st = c.wc.getStream()
	} else {
		st = c.pc.getStream()
	}
	err := st.SendContext(ctx, msg)
	if err == nil {
		err = st.RecvContext(ctx, reply)
	}
	if ctx.Err() != nil || st.closed.Load() {
		// A late reply could land on the next user: drop the stream.
		st.Close()
		return err
	}
	if c.wc != nil {
		c.wc.putStream(st)
	} else {
		c.pc.putStream(st)
	}
	return err
}

// Close closes the connection and waits for its goroutines.
func (c *Conn) Close() error {
	if c.wc != nil {
		c.wc.close(ErrClosed)
		c.wc.wait()
		return nil
	}
	c.pc.close(ErrClosed)
	return nil
}
