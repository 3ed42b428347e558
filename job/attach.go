package job

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"sync"
)

// attacher is the client side of an interactive job, inside the host: its
// stdin bytes come raw over the connection (half-closed at EOF), and the
// job's output goes back as attachFrames, ended by an exit frame.
type attacher struct {
	c      *net.UnixConn
	wmu    sync.Mutex
	stdin  *io.PipeReader
	stdinW *io.PipeWriter
	done   chan struct{}
	once   sync.Once
}

type frameWriter struct {
	a     *attacher
	isErr bool
}

// Write never fails: a client that went away must not break the job.
func (w frameWriter) Write(p []byte) (int, error) {
	f := attachFrame{}
	if w.isErr {
		f.Err = p
	} else {
		f.Out = p
	}
	w.a.wmu.Lock()
	writeMsg(w.a.c, f)
	w.a.wmu.Unlock()
	return len(p), nil
}

func (a *attacher) writer(isErr bool) io.Writer { return frameWriter{a, isErr} }

func (a *attacher) exit(code int, msg string) {
	a.once.Do(func() {
		a.wmu.Lock()
		writeMsg(a.c, attachFrame{Exit: &code, Msg: msg})
		a.wmu.Unlock()
		a.stdinW.CloseWithError(io.EOF)
		close(a.done)
	})
}

func (h *GroupHost) attach(c *net.UnixConn, br *bufio.Reader, id string) {
	h.mu.Lock()
	j := h.jobs[id]
	h.mu.Unlock()
	if j == nil {
		writeMsg(c, errResponse(fmt.Errorf("job: attach %s: %w", id, ErrNotFound)))
		return
	}
	j.mu.Lock()
	ch, interactive := j.attachCh, j.st.Interactive
	j.mu.Unlock()
	if !interactive || ch == nil {
		writeMsg(c, errResponse(fmt.Errorf("job: attach %s: not an interactive job waiting for input: %w", id, ErrNotRunning)))
		return
	}
	pr, pw := io.Pipe()
	a := &attacher{c: c, stdin: pr, stdinW: pw, done: make(chan struct{})}
	select {
	case ch <- a:
	default:
		writeMsg(c, errResponse(fmt.Errorf("job: attach %s: already attached: %w", id, ErrRunning)))
		return
	}
	// The first frame says the attach took: an empty response.
	a.wmu.Lock()
	writeMsg(c, response{})
	a.wmu.Unlock()
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, err := io.Copy(pw, br)
		if err == nil {
			err = io.EOF
		}
		pw.CloseWithError(err)
	}()
	// Wait for the run to end (or the loop to be stopped before it ran).
	j.mu.Lock()
	loopDone := j.loopDone
	j.mu.Unlock()
	if loopDone != nil {
		select {
		case <-a.done:
		case <-loopDone:
			a.exit(-1, "job stopped")
		}
	}
	c.Close()
	<-copied
}
