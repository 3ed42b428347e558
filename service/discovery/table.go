package discovery

import (
	"context"
	"sort"
	"sync"
)

// Table is an in-memory Registry: the Process scope's table (one per OS
// process by default, several in tests), or the registry of an in-memory
// transport. It is safe for concurrent use.
type Table struct {
	mu      sync.Mutex
	entries map[string]*tableReg
}

// NewTable returns an empty table.
func NewTable() *Table { return &Table{entries: make(map[string]*tableReg)} }

type tableReg struct {
	t   *Table
	rec Record
}

func (r *tableReg) Record() Record { return r.rec }

func (r *tableReg) Close() error {
	r.t.mu.Lock()
	defer r.t.mu.Unlock()
	if r.t.entries[r.rec.Name()] == r {
		delete(r.t.entries, r.rec.Name())
	}
	return nil
}

// Register implements Registry. A record without Addr gets "publisher/service".
func (t *Table) Register(_ context.Context, rec Record) (Registration, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.entries[rec.Name()]; ok {
		return nil, &TakenError{Name: rec.Name(), Holder: old.rec}
	}
	if rec.Addr == "" && rec.Local == nil {
		rec.Addr = rec.Name()
	}
	r := &tableReg{t: t, rec: rec}
	t.entries[rec.Name()] = r
	return r, nil
}

// Lookup implements Registry.
func (t *Table) Lookup(_ context.Context, publisher, service string) ([]Record, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r, ok := t.entries[publisher+"/"+service]; ok {
		return []Record{r.rec}, nil
	}
	return nil, nil
}

// List implements Registry.
func (t *Table) List(_ context.Context, pattern string) ([]Record, error) {
	t.mu.Lock()
	var out []Record
	for _, r := range t.entries {
		if Match(pattern, r.rec.Publisher, r.rec.Service) {
			out = append(out, r.rec)
		}
	}
	t.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}
