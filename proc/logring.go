package proc

import (
	"bytes"
	"sync"
)

// LogRing keeps the last Max bytes written to it, for showing a process's
// recent output. It is an io.Writer safe for concurrent use.
type LogRing struct {
	Max int // bytes kept; 0 = 64 KiB

	mu  sync.Mutex
	buf []byte
	// cut says bytes were dropped before buf[0] and the byte just before
	// buf[0] was not a newline (buf starts inside a line).
	cut bool
}

// NewLogRing returns a ring keeping the last max bytes.
func NewLogRing(max int) *LogRing { return &LogRing{Max: max} }

func (r *LogRing) max() int {
	if r.Max <= 0 {
		return 64 << 10
	}
	return r.Max
}

// Write appends p, dropping the oldest bytes beyond Max. It never fails.
func (r *LogRing) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.max()
	if len(p) >= m {
		if len(p) == m {
			r.cut = len(r.buf) > 0 && r.buf[len(r.buf)-1] != '\n'
		} else {
			r.cut = p[len(p)-m-1] != '\n'
		}
		r.buf = append(r.buf[:0], p[len(p)-m:]...)
		return len(p), nil
	}
	r.buf = append(r.buf, p...)
	// Compact only when the buffer has grown to twice the limit, so each
	// byte is copied a bounded number of times.
	if len(r.buf) > 2*m {
		drop := len(r.buf) - m
		r.cut = r.buf[drop-1] != '\n'
		n := copy(r.buf, r.buf[drop:])
		r.buf = r.buf[:n]
	}
	return len(p), nil
}

// window returns the kept bytes and whether they start inside a line.
// r.mu must be held.
func (r *LogRing) window() ([]byte, bool) {
	b, cut := r.buf, r.cut
	if m := r.max(); len(b) > m {
		cut = b[len(b)-m-1] != '\n'
		b = b[len(b)-m:]
	}
	return b, cut
}

// Bytes returns a copy of the kept bytes (at most Max).
func (r *LogRing) Bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, _ := r.window()
	return bytes.Clone(b)
}

// Lines returns up to the last n lines (n <= 0: all kept lines), without
// their newlines. A first line cut by the byte limit is dropped; an
// unterminated last line is included.
func (r *LogRing) Lines(n int) []string {
	r.mu.Lock()
	b, cut := r.window()
	b = bytes.Clone(b)
	r.mu.Unlock()
	if cut {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return nil
		}
		b = b[i+1:]
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	if len(b) == 0 {
		return nil
	}
	parts := bytes.Split(b, []byte("\n"))
	if n > 0 && len(parts) > n {
		parts = parts[len(parts)-n:]
	}
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = string(p)
	}
	return out
}
