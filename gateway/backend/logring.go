package backend

import (
	"bytes"
	"sync"
)

// maxLine bounds one captured line; longer output is split.
const maxLine = 4096

// LogRing keeps the last N lines written to it. It is an io.Writer for a
// process's stdout and stderr. Safe for concurrent use.
type LogRing struct {
	mu      sync.Mutex
	lines   []string
	next    int
	full    bool
	partial []byte
}

// NewLogRing returns a ring holding n lines.
func NewLogRing(n int) *LogRing { return &LogRing{lines: make([]string, max(n, 1))} }

// Write splits p into lines and keeps the newest.
func (r *LogRing) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			r.partial = append(r.partial, p...)
			if len(r.partial) >= maxLine {
				r.add(string(r.partial[:maxLine]))
				r.partial = append(r.partial[:0], r.partial[maxLine:]...)
			}
			break
		}
		r.partial = append(r.partial, p[:i]...)
		r.add(string(r.partial))
		r.partial = r.partial[:0]
		p = p[i+1:]
	}
	return n, nil
}

func (r *LogRing) add(s string) {
	r.lines[r.next] = s
	r.next++
	if r.next == len(r.lines) {
		r.next, r.full = 0, true
	}
}

// Lines returns the kept lines, oldest first, plus an unfinished last line.
func (r *LogRing) Lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	if r.full {
		out = append(out, r.lines[r.next:]...)
	}
	out = append(out, r.lines[:r.next]...)
	if len(r.partial) > 0 {
		out = append(out, string(r.partial))
	}
	return out
}
