package config

import (
	"reflect"
	"slices"
)

// Diff is what changed between two configs, computed on their normalized
// forms. Routes are identified by port, backends by name (or position when
// unnamed).
type Diff struct {
	Added     []string // ports of new routes
	Removed   []string // ports of routes that are gone
	Changed   []string // ports of routes whose settings or backends differ
	Unchanged []string // ports of routes that keep their listener, connections and processes
	// Global is true when a field outside routes changed (dashboard, admin,
	// trusted origins: trusted origins change the CORS decisions of every route).
	Global bool
}

// Empty reports whether nothing changed: a reload with this diff is a no-op.
func (d Diff) Empty() bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Changed) == 0 && !d.Global
}

// Compare returns the diff from old to new.
func Compare(old, new Config) Diff {
	o, n := old.Normalized(), new.Normalized()
	var d Diff
	for _, p := range n.Ports() {
		or, ok := o.Routes[p]
		switch {
		case !ok:
			d.Added = append(d.Added, p)
		case reflect.DeepEqual(or, n.Routes[p]):
			d.Unchanged = append(d.Unchanged, p)
		default:
			d.Changed = append(d.Changed, p)
		}
	}
	for _, p := range o.Ports() {
		if _, ok := n.Routes[p]; !ok {
			d.Removed = append(d.Removed, p)
		}
	}
	og, ng := o, n
	og.Routes, ng.Routes = nil, nil
	d.Global = !reflect.DeepEqual(og, ng)
	return d
}

// RouteDiff is what changed inside one route.
type RouteDiff struct {
	// Settings is true when a route-level field changed (protocol, policy,
	// timeouts, CORS, ...), as opposed to only its backends.
	Settings bool
	// Listener is true when the listener itself must be replaced (bind
	// address or protocol changed); otherwise it can be kept.
	Listener bool
	// Backends by name (BackendName).
	Added, Removed, Changed, Unchanged []string
}

// CompareRoute returns what changed in a route from old to new, so that a
// reload can keep unchanged backends running and restart only changed ones.
// Both are normalized first; port is the route's key (for default names).
func CompareRoute(port string, old, new Route) RouteDiff {
	o, n := old.normalized(port), new.normalized(port)
	var d RouteDiff
	d.Listener = o.Bind != n.Bind || o.Protocol != n.Protocol || o.StdioMode != n.StdioMode || o.Handoff != n.Handoff
	os, ns := o, n
	os.Backends, ns.Backends = nil, nil
	d.Settings = !reflect.DeepEqual(os, ns)
	ob := map[string]Backend{}
	for i, b := range o.Backends {
		ob[BackendName(b, i)] = b
	}
	seen := map[string]bool{}
	for i, b := range n.Backends {
		name := BackendName(b, i)
		seen[name] = true
		prev, ok := ob[name]
		switch {
		case !ok:
			d.Added = append(d.Added, name)
		case reflect.DeepEqual(prev, b):
			d.Unchanged = append(d.Unchanged, name)
		default:
			d.Changed = append(d.Changed, name)
		}
	}
	for i, b := range o.Backends {
		if name := BackendName(b, i); !seen[name] {
			d.Removed = append(d.Removed, name)
		}
	}
	slices.Sort(d.Removed)
	return d
}
