package job

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/warren-mesh/warren/proc"
)

// Logs writes the last n lines (n <= 0: all) of a job's log (id is a job ID
// or a unique name) or of a group host's log (id is a group name), each line
// starting with its timestamp. With follow it goes on writing new lines
// until the job ends (for a group: until ctx ends).
func (m *Manager) Logs(ctx context.Context, id string, n int, follow bool, w io.Writer) error {
	m.mu.Lock()
	if err := m.check(); err != nil {
		m.mu.Unlock()
		return err
	}
	var file, jobID string
	if j, err := m.lookup(id); err == nil {
		file, jobID = jobLogPath(m.WorkDir, j.st.ID), j.st.ID
	} else if _, ok := m.groups[id]; ok || (ValidGroupName(id) && exists(groupLogPath(m.WorkDir, id))) {
		file = groupLogPath(m.WorkDir, id)
	} else {
		m.mu.Unlock()
		return fmt.Errorf("job: log %s: %w", id, ErrNotFound)
	}
	m.mu.Unlock()
	ended := func() bool {
		if jobID == "" {
			return false
		}
		st, err := m.Get(jobID)
		return err != nil || st.State.Terminal()
	}
	return tailFollow(ctx, file, n, follow, ended, w)
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// tailFollow prints the last n lines of a rotated log, then (follow) polls
// the live file for growth and rotation until ended() or ctx ends.
func tailFollow(ctx context.Context, file string, n int, follow bool, ended func() bool, w io.Writer) error {
	// Pin the live file and its size first, so that no line is lost or
	// shown twice between the tail and the follow.
	f, err := os.Open(file)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("job: log: %w", err)
	}
	var size int64
	if f != nil {
		defer func() { f.Close() }()
		fi, err := f.Stat()
		if err != nil {
			return fmt.Errorf("job: log: %w", err)
		}
		size = fi.Size()
	}
	var lines []string
	files := proc.LogFiles(file, 0)
	for _, p := range files {
		if p == file {
			continue
		}
		ls, err := proc.TailLines(p, 0, n)
		if err == nil {
			lines = append(lines, ls...)
		}
	}
	if f != nil {
		sc := bufio.NewScanner(io.NewSectionReader(f, 0, size))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if n > 0 && len(lines) > 2*n {
				lines = append(lines[:0], lines[len(lines)-n:]...)
			}
		}
	}
	if n > 0 && len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) > 0 {
		if _, err := io.WriteString(w, strings.Join(lines, "\n")+"\n"); err != nil {
			return err
		}
	}
	if !follow {
		return nil
	}
	off := size
	buf := make([]byte, 64<<10)
	wait := 10 * time.Millisecond
	for {
		// Read what is new in the pinned file.
		grew := false
		if f != nil {
			for {
				k, err := f.ReadAt(buf, off)
				if k > 0 {
					grew = true
					off += int64(k)
					if _, werr := w.Write(buf[:k]); werr != nil {
						return werr
					}
				}
				if err != nil || k < len(buf) {
					break
				}
			}
		}
		// Rotated (or created)? Switch to the new live file.
		if nf, err := os.Open(file); err == nil {
			if f == nil || !sameFile(f, nf) {
				if f != nil {
					// Drain the old one first: its last lines were
					// written before the rotation.
					for {
						k, _ := f.ReadAt(buf, off)
						if k <= 0 {
							break
						}
						off += int64(k)
						if _, werr := w.Write(buf[:k]); werr != nil {
							nf.Close()
							return werr
						}
					}
					// Files rotated in between that we never had open
					// (the follower fell more than one rotation behind).
					for _, p := range rotatedAfter(file, f) {
						if err := copyFile(w, p); err != nil {
							nf.Close()
							return err
						}
					}
					f.Close()
				}
				f, off, grew = nf, 0, true
			} else {
				nf.Close()
			}
		}
		if grew {
			wait = 10 * time.Millisecond
			continue
		}
		if ended() {
			// One last look: the job's final lines may have landed
			// after the previous read.
			if f != nil {
				for {
					k, _ := f.ReadAt(buf, off)
					if k <= 0 {
						break
					}
					off += int64(k)
					if _, err := w.Write(buf[:k]); err != nil {
						return err
					}
				}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(wait*2, 200*time.Millisecond)
	}
}

// rotatedAfter lists the rotated files of the log at path that are newer
// than the (rotated) file old, oldest first, without the live file.
func rotatedAfter(path string, old *os.File) []string {
	files := proc.LogFiles(path, 0)
	if len(files) == 0 || files[len(files)-1] != path {
		return nil
	}
	rotated := files[:len(files)-1]
	for i, p := range rotated {
		if f, err := os.Open(p); err == nil {
			same := sameFile(old, f)
			f.Close()
			if same {
				return rotated[i+1:]
			}
		}
	}
	return rotated // old was rotated out: every kept file is newer
}

func copyFile(w io.Writer, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return nil // rotated away meanwhile
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

func sameFile(a, b *os.File) bool {
	ai, err1 := a.Stat()
	bi, err2 := b.Stat()
	if err1 != nil || err2 != nil {
		return false
	}
	as, ok1 := ai.Sys().(*syscall.Stat_t)
	bs, ok2 := bi.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && as.Ino == bs.Ino && as.Dev == bs.Dev
}

// Attach connects stdin and stdout (stdout and stderr merged) to an
// interactive job (Spec.Interactive) that waits for its first attach, and
// returns the job's exit code when it ends. See AttachStreams.
func (m *Manager) Attach(ctx context.Context, id string, stdin io.Reader, stdout io.Writer) (int, error) {
	return m.AttachStreams(ctx, id, stdin, stdout, stdout)
}

// AttachStreams is Attach with stderr apart. stdin is read by a goroutine
// that ends when stdin returns EOF or an error; AttachStreams does not wait
// for it (a terminal may never return), but EOF on stdin closes the job's
// stdin.
func (m *Manager) AttachStreams(ctx context.Context, id string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	m.mu.Lock()
	if err := m.check(); err != nil {
		m.mu.Unlock()
		return -1, err
	}
	j, err := m.lookup(id)
	if err != nil {
		m.mu.Unlock()
		return -1, err
	}
	st := j.st
	m.mu.Unlock()
	g, err := m.ensureGroup(ctx, st.Group, st.RTPrio, st.MaxProcs)
	if err != nil {
		return -1, fmt.Errorf("job: attach %s: %w", id, err)
	}
	conn, err := m.sock(g).dial(ctx)
	if err != nil {
		return -1, fmt.Errorf("job: attach %s: %w", id, err)
	}
	defer conn.Close()
	s := conn.NewStream()
	defer s.Close()
	if err := s.SendContext(ctx, hostCall{Req: request{Op: opAttach, ID: st.ID}}); err != nil {
		return -1, fmt.Errorf("job: attach %s: %w", id, err)
	}
	var first response
	if err := s.RecvContext(ctx, &first); err != nil {
		return -1, fmt.Errorf("job: attach %s: %w", id, err)
	}
	if err := first.error(); err != nil {
		return -1, fmt.Errorf("job: attach %s: %w", id, err)
	}
	if stdin != nil {
		go func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := stdin.Read(buf)
				if n > 0 {
					if s.SendContext(ctx, stdinChunk{Data: append([]byte(nil), buf[:n]...)}) != nil {
						return
					}
				}
				if err != nil {
					s.SendContext(ctx, stdinChunk{EOF: true})
					return
				}
			}
		}()
	} else {
		s.SendContext(ctx, stdinChunk{EOF: true})
	}
	for {
		var v any
		if err := s.RecvContext(ctx, &v); err != nil {
			if ctx.Err() != nil {
				return -1, fmt.Errorf("job: attach %s: %w", id, ctx.Err())
			}
			return -1, fmt.Errorf("job: attach %s: stream ended: %w", id, err)
		}
		var f attachFrame
		switch x := v.(type) {
		case attachFrame:
			f = x
		case response: // the host refused after the first frame
			if err := x.error(); err != nil {
				return -1, fmt.Errorf("job: attach %s: %w", id, err)
			}
			continue
		default:
			return -1, fmt.Errorf("job: attach %s: unexpected %T on the stream", id, v)
		}
		if len(f.Out) > 0 {
			if _, err := stdout.Write(f.Out); err != nil {
				return -1, err
			}
		}
		if len(f.Err) > 0 {
			if _, err := stderr.Write(f.Err); err != nil {
				return -1, err
			}
		}
		if f.Exit != nil {
			m.awaitSettled(ctx, st.ID)
			if f.Msg != "" {
				return *f.Exit, fmt.Errorf("job %s: %s", st.ID, f.Msg)
			}
			return *f.Exit, nil
		}
	}
}
