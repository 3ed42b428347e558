package proc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"
)

// Log file defaults.
const (
	DefaultLogMaxBytes = 10 << 20 // per file
	DefaultLogKeep     = 3        // rotated files kept besides the live one
)

// TimeLayout is the timestamp that starts every line of a RotatingFile.
const TimeLayout = time.RFC3339Nano

// RotatingFile is an io.Writer to a log file that starts each line with an
// RFC 3339 timestamp and a space, and rotates the file when it would grow
// past MaxBytes: path -> path.1 -> ... -> path.Keep (the oldest is dropped).
// It rotates only between lines. It is safe for concurrent use; use Stream
// to give each concurrent source its own line buffer so their lines do not
// interleave mid-line.
type RotatingFile struct {
	path     string
	maxBytes int64
	keep     int
	now      func() time.Time

	mu      sync.Mutex
	f       *os.File
	size    int64
	midLine bool
	closed  bool
}

// OpenRotatingFile opens (appending) or creates the log file at path.
// maxBytes <= 0 means DefaultLogMaxBytes, keep <= 0 means DefaultLogKeep.
func OpenRotatingFile(path string, maxBytes int64, keep int) (*RotatingFile, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultLogMaxBytes
	}
	if keep <= 0 {
		keep = DefaultLogKeep
	}
	r := &RotatingFile{path: path, maxBytes: maxBytes, keep: keep, now: time.Now}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("proc: open log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("proc: open log: %w", err)
	}
	r.f, r.size = f, st.Size()
	return r, nil
}

// SetClock replaces time.Now, for tests.
func (r *RotatingFile) SetClock(now func() time.Time) {
	r.mu.Lock()
	r.now = now
	r.mu.Unlock()
}

// Path returns the live file's path.
func (r *RotatingFile) Path() string { return r.path }

// Write writes p, starting every new line with a timestamp.
func (r *RotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, os.ErrClosed
	}
	n := 0
	for len(p) > 0 {
		chunk := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			chunk = p[:i+1]
		}
		if err := r.writeChunk(chunk); err != nil {
			return n, err
		}
		n += len(chunk)
		p = p[len(chunk):]
	}
	return n, nil
}

// writeChunk writes a piece of at most one line; r.mu held.
func (r *RotatingFile) writeChunk(c []byte) error {
	if !r.midLine {
		prefix := r.now().UTC().AppendFormat(make([]byte, 0, 40+len(c)), TimeLayout)
		prefix = append(prefix, ' ')
		if r.size > 0 && r.size+int64(len(prefix)+len(c)) > r.maxBytes {
			if err := r.rotate(); err != nil {
				return err
			}
		}
		c = append(prefix, c...)
	}
	n, err := r.f.Write(c)
	r.size += int64(n)
	if err != nil {
		return fmt.Errorf("proc: write log: %w", err)
	}
	r.midLine = c[len(c)-1] != '\n'
	return nil
}

// rotate shifts the files; r.mu held.
func (r *RotatingFile) rotate() error {
	if err := r.f.Close(); err != nil {
		return fmt.Errorf("proc: rotate log: %w", err)
	}
	for i := r.keep - 1; i >= 1; i-- {
		err := os.Rename(r.path+"."+strconv.Itoa(i), r.path+"."+strconv.Itoa(i+1))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("proc: rotate log: %w", err)
		}
	}
	if err := os.Rename(r.path, r.path+".1"); err != nil {
		return fmt.Errorf("proc: rotate log: %w", err)
	}
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND|os.O_TRUNC, 0o640)
	if err != nil {
		r.closed = true
		return fmt.Errorf("proc: rotate log: %w", err)
	}
	r.f, r.size = f, 0
	return nil
}

// Close closes the file. Later writes fail with os.ErrClosed.
func (r *RotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	return r.f.Close()
}

// Stream returns a writer for one source (a process's stdout, say): it
// buffers a partial line until its newline (or 64 KiB) so that whole lines
// reach the file atomically. Close flushes a last partial line.
func (r *RotatingFile) Stream() io.WriteCloser { return &lineWriter{rf: r} }

type lineWriter struct {
	rf  *RotatingFile
	mu  sync.Mutex
	buf []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	i := bytes.LastIndexByte(w.buf, '\n')
	if i < 0 && len(w.buf) < 64<<10 {
		return len(p), nil
	}
	end := i + 1
	if i < 0 {
		end = len(w.buf)
	}
	if _, err := w.rf.writeLines(w.buf[:end], i < 0); err != nil {
		return 0, err
	}
	w.buf = append(w.buf[:0], w.buf[end:]...)
	return len(p), nil
}

func (w *lineWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.rf.writeLines(append(w.buf, '\n'), false)
	w.buf = nil
	return err
}

// writeLines writes whole lines under one lock; if open, the last line is
// ended with a newline anyway (an over-long line is split).
func (r *RotatingFile) writeLines(b []byte, open bool) (int, error) {
	if open {
		b = append(b, '\n')
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, os.ErrClosed
	}
	if r.midLine { // a direct Write left a partial line: end it first
		if err := r.writeChunk([]byte("\n")); err != nil {
			return 0, err
		}
	}
	n := 0
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if err := r.writeChunk(b[:i+1]); err != nil {
			return n, err
		}
		n += i + 1
		b = b[i+1:]
	}
	return n, nil
}

// LogFiles returns the files of a rotated log at path, oldest first, that
// exist (path.keep ... path.1, path).
func LogFiles(path string, keep int) []string {
	if keep <= 0 {
		keep = DefaultLogKeep
	}
	var out []string
	for i := keep; i >= 1; i-- {
		p := path + "." + strconv.Itoa(i)
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	if _, err := os.Stat(path); err == nil {
		out = append(out, path)
	}
	return out
}

// TailLines returns the last n lines (n <= 0: all) of a rotated log,
// reading across the rotated files, oldest first.
func TailLines(path string, keep, n int) ([]string, error) {
	var lines []string
	for _, p := range LogFiles(path, keep) {
		f, err := os.Open(p)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // rotated away meanwhile
			}
			return nil, fmt.Errorf("proc: tail log: %w", err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if n > 0 && len(lines) > 2*n {
				lines = append(lines[:0], lines[len(lines)-n:]...)
			}
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("proc: tail log %s: %w", p, err)
		}
	}
	if n > 0 && len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines, nil
}
