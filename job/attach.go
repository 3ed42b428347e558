package job

import (
	"fmt"
	"io"
	"sync"

	"github.com/warren-mesh/warren/service"
)

// attacher is the client side of an interactive job, inside the host: its
// stdin comes as stdinChunks on the attach stream, and the job's output
// goes back as attachFrames, ended by an exit frame.
type attacher struct {
	s      *service.Stream
	stdin  *io.PipeReader
	stdinW *io.PipeWriter
	done   chan struct{}
	once   sync.Once
}

type frameWriter struct {
	a     *attacher
	isErr bool
}

// Write never fails: a client that went away must not break the job. The
// frame is sent before Write returns, so p may be reused by the caller.
func (w frameWriter) Write(p []byte) (int, error) {
	f := attachFrame{}
	b := append([]byte(nil), p...)
	if w.isErr {
		f.Err = b
	} else {
		f.Out = b
	}
	w.a.s.Send(f)
	return len(p), nil
}

func (a *attacher) writer(isErr bool) io.Writer { return frameWriter{a, isErr} }

func (a *attacher) exit(code int, msg string) {
	a.once.Do(func() {
		a.s.Send(attachFrame{Exit: &code, Msg: msg})
		a.stdinW.CloseWithError(io.EOF)
		close(a.done)
	})
}

// attach serves an attach stream until the job's run ends.
func (h *GroupHost) attach(s *service.Stream, id string) {
	h.mu.Lock()
	j := h.jobs[id]
	h.mu.Unlock()
	if j == nil {
		s.Send(errResponse(fmt.Errorf("job: attach %s: %w", id, ErrNotFound)))
		return
	}
	j.mu.Lock()
	ch, interactive, loopDone := j.attachCh, j.st.Interactive, j.loopDone
	j.mu.Unlock()
	if !interactive || ch == nil {
		s.Send(errResponse(fmt.Errorf("job: attach %s: not an interactive job waiting for input: %w", id, ErrNotRunning)))
		return
	}
	pr, pw := io.Pipe()
	a := &attacher{s: s, stdin: pr, stdinW: pw, done: make(chan struct{})}
	// The first frame says the attach took: an empty response.
	if err := s.Send(response{}); err != nil {
		return
	}
	select {
	case ch <- a:
	default:
		s.Send(errResponse(fmt.Errorf("job: attach %s: already attached: %w", id, ErrRunning)))
		return
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		for {
			var c stdinChunk
			if err := s.RecvContext(s.Context(), &c); err != nil {
				pw.CloseWithError(io.EOF)
				return
			}
			if len(c.Data) > 0 {
				if _, err := pw.Write(c.Data); err != nil {
					return // the job closed its stdin or ended
				}
			}
			if c.EOF {
				pw.CloseWithError(io.EOF)
				return
			}
		}
	}()
	if loopDone != nil {
		select {
		case <-a.done:
		case <-loopDone:
			a.exit(-1, "job stopped")
		case <-s.Context().Done():
		}
	}
	// The client's stdin reader ends when the stream closes.
	pw.CloseWithError(io.EOF)
	s.Close()
	<-copied
}
