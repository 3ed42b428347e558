package job

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// The control channel between a Manager and a group host: one unix socket
// per group in the work dir, newline-delimited JSON, one request per
// connection. A watch or attach request turns its connection into a stream.
// The socket outlives the Manager, which is what lets a restarted daemon
// re-adopt running groups. JSON is used because the peer is always this same
// binary (or its previous version during an update): the format must be
// forgiving of added fields, and every line is bounded by maxLine.

const maxLine = 4 << 20

// Operations of the control channel.
const (
	opHello    = "hello"
	opRun      = "run"
	opStop     = "stop"
	opStart    = "start"
	opRemove   = "remove"
	opList     = "list"
	opShutdown = "shutdown"
	opWatch    = "watch"
	opAttach   = "attach"
)

type request struct {
	Op     string  `json:"op"`
	ID     string  `json:"id,omitempty"`
	Spec   *Spec   `json:"spec,omitempty"`
	Prev   *Status `json:"prev,omitempty"` // run: the status to resume from
	Want   string  `json:"want,omitempty"` // run: "running" or "stopped"
	Force  bool    `json:"force,omitempty"`
	Resume bool    `json:"resume,omitempty"` // run: the group restarted; keep counters
}

type response struct {
	Err    string   `json:"err,omitempty"`
	Code   string   `json:"code,omitempty"`
	Status *Status  `json:"status,omitempty"`
	Jobs   []Status `json:"jobs,omitempty"`
	Hello  *hello   `json:"hello,omitempty"`
}

type hello struct {
	Name     string `json:"name"`
	PID      int    `json:"pid"`
	RTPrio   int    `json:"rt_prio,omitempty"`
	MaxProcs int    `json:"max_procs,omitempty"`
	Note     string `json:"note,omitempty"` // e.g. why --rt could not be applied
	// What the host runs with, as it measured it.
	GOMAXPROCS int  `json:"gomaxprocs,omitempty"`
	Realtime   bool `json:"realtime,omitempty"` // SCHED_RR is in effect
}

// attachFrame is what a host sends on an attach stream.
type attachFrame struct {
	Out  []byte `json:"o,omitempty"`
	Err  []byte `json:"e,omitempty"`
	Exit *int   `json:"x,omitempty"`
	Msg  string `json:"m,omitempty"` // the error that ended the run, if any
}

const (
	wantRunning = "running"
	wantStopped = "stopped"
)

var codes = map[string]error{
	"not_found":    ErrNotFound,
	"running":      ErrRunning,
	"not_running":  ErrNotRunning,
	"bad_spec":     ErrBadSpec,
	"no_interp":    ErrNoInterp,
	"group_failed": ErrGroupFailed,
}

func errResponse(err error) response {
	r := response{Err: err.Error()}
	for c, e := range codes {
		if errors.Is(err, e) {
			r.Code = c
			break
		}
	}
	return r
}

// remoteError is an error reported by a group host.
type remoteError struct {
	msg string
	err error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.err }

func (r response) error() error {
	if r.Err == "" && r.Code == "" {
		return nil
	}
	return &remoteError{msg: r.Err, err: codes[r.Code]}
}

// readMsg reads one line and decodes it into v.
func readMsg(br *bufio.Reader, v any) error {
	line, err := readLine(br)
	if err != nil {
		return err
	}
	return decodeMsg(line, v)
}

func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > maxLine {
			return nil, fmt.Errorf("job: control message over %d bytes", maxLine)
		}
		if err == nil {
			return buf, nil
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == io.EOF && len(buf) > 0 {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
}

// decodeMsg decodes one control message; it is the decoder of outside
// bytes that FuzzDecodeMsg exercises.
func decodeMsg(line []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("job: bad control message: %w", err)
	}
	return nil
}

func writeMsg(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// dialHost connects to a group host's control socket.
func dialHost(ctx context.Context, sock string) (*net.UnixConn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return nil, err
	}
	return c.(*net.UnixConn), nil
}

// call sends one request and reads one response.
func call(ctx context.Context, sock string, req request) (response, error) {
	c, err := dialHost(ctx, sock)
	if err != nil {
		return response{}, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := writeMsg(c, req); err != nil {
		return response{}, err
	}
	var resp response
	if err := readMsg(bufio.NewReader(c), &resp); err != nil {
		if ctx.Err() != nil {
			return response{}, ctx.Err()
		}
		return response{}, err
	}
	return resp, resp.error()
}
