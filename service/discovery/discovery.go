// Package discovery owns the service registries, one per scope: who
// provides {publisher, service} and where to reach it. The Process scope
// uses an in-memory Table; the OS scope a SocketDir of unix sockets guarded
// by lock files. LAN (mDNS) and WAN (NATS KV) registries implement the same
// Registry interface.
//
// Names reaching a Registry are already validated by the service package
// (no "/", whitespace, control characters, "." or "..").
package discovery

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
)

// Record describes one provider of a service in one scope.
type Record struct {
	Publisher  string
	Service    string
	ProviderID string
	PID        int    // process that holds the name (0 if unknown)
	Addr       string // where to connect (socket path, host:port); "" for in-process
	Local      any    // in-process endpoint (Process scope only)
}

// Name is "publisher/service".
func (r Record) Name() string { return r.Publisher + "/" + r.Service }

// Registration is a held name; Close releases it.
type Registration interface {
	Record() Record
	Close() error
}

// Registry is one scope's table of services.
type Registry interface {
	// Register claims the name in rec. It fails with a *TakenError when a live
	// provider holds it. The returned registration's Record carries the
	// address the provider must listen on.
	Register(ctx context.Context, rec Record) (Registration, error)
	// Lookup returns the live providers of a service (none: empty, nil error).
	Lookup(ctx context.Context, publisher, service string) ([]Record, error)
	// List returns the live services whose "publisher/service" matches
	// pattern (see Match).
	List(ctx context.Context, pattern string) ([]Record, error)
}

// ErrNameTaken is wrapped by *TakenError.
var ErrNameTaken = errors.New("name taken")

// TakenError says who holds a name.
type TakenError struct {
	Name   string // publisher/service
	Holder Record
}

func (e *TakenError) Error() string {
	h := e.Holder
	who := "provider " + h.ProviderID
	if h.ProviderID == "" {
		who = "an unknown provider"
	}
	if h.PID != 0 {
		who += fmt.Sprintf(" (pid %d)", h.PID)
	}
	return fmt.Sprintf("%s: %v by %s", e.Name, ErrNameTaken, who)
}

func (e *TakenError) Unwrap() error { return ErrNameTaken }

// Match reports whether "publisher/service" matches a glob pattern
// (path.Match syntax). An empty pattern matches everything; a pattern
// without "/" matches either the publisher or the service name.
func Match(pattern, publisher, service string) bool {
	if pattern == "" {
		return true
	}
	if !strings.Contains(pattern, "/") {
		a, _ := path.Match(pattern, publisher)
		b, _ := path.Match(pattern, service)
		return a || b
	}
	ok, _ := path.Match(pattern, publisher+"/"+service)
	return ok
}
