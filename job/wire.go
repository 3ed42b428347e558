package job

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/warren-mesh/warren/service"
)

// The control channel between a Manager and a group host is a service of
// the service library, {warren, group.<name>}, published by the host in OS
// scope in the socket directory WorkDir/run. The socket outlives the
// Manager, which is what lets a restarted daemon re-adopt running groups,
// and the library's flock'd registration means a host killed with SIGKILL
// never blocks its successor. The one known message is hostCall; a watch or
// an attach call keeps its stream open for pushes (and, for attach, the
// client's stdinChunks).

const hostPublisher = "warren"

func hostServiceName(group string) string { return "group." + group }

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
	Op     string
	ID     string  `cbor:",omitempty"`
	Spec   *Spec   `cbor:",omitempty"`
	Prev   *Status `cbor:",omitempty"` // run: the status to resume from
	Want   string  `cbor:",omitempty"` // run: "running" or "stopped"
	Force  bool    `cbor:",omitempty"`
	Resume bool    `cbor:",omitempty"`
}

type response struct {
	Err    string   `cbor:",omitempty"`
	Code   string   `cbor:",omitempty"`
	Status *Status  `cbor:",omitempty"`
	Jobs   []Status `cbor:",omitempty"`
	Hello  *hello   `cbor:",omitempty"`
}

type hello struct {
	Name     string
	PID      int
	RTPrio   int    `cbor:",omitempty"`
	MaxProcs int    `cbor:",omitempty"`
	Note     string `cbor:",omitempty"` // e.g. why --rt could not be applied
	// WorkDir is the host's work dir: a Manager adopts only the hosts of
	// its own (several may share a socket dir).
	WorkDir string `cbor:",omitempty"`
	// What the host runs with, as it measured it.
	GOMAXPROCS int  `cbor:",omitempty"`
	Realtime   bool `cbor:",omitempty"` // SCHED_RR is in effect
}

// attachFrame is what a host sends on an attach stream.
type attachFrame struct {
	Out  []byte `cbor:",omitempty"`
	Err  []byte `cbor:",omitempty"`
	Exit *int   `cbor:",omitempty"`
	Msg  string `cbor:",omitempty"` // the error that ended the run, if any
}

// stdinChunk is what an attached client sends: bytes for the job's stdin,
// or EOF.
type stdinChunk struct {
	Data []byte `cbor:",omitempty"`
	EOF  bool   `cbor:",omitempty"`
}

// hostCall is the known message of a group host's service.
type hostCall struct{ Req request }

// Handle runs on the host's worker pool.
func (c hostCall) Handle(s *service.Stream) any {
	h := currentHost.Load()
	if h == nil {
		return response{Err: "job: no group host in this process"}
	}
	return h.serveCall(s, c.Req)
}

// statusWire carries a Status's times with nanoseconds: the service codec
// encodes time.Time as whole Unix seconds.
type statusWire struct {
	S                          statusNoMethods
	Created, Started, Ended    int64 `cbor:",omitempty"`
	CreatedZ, StartedZ, EndedZ bool  `cbor:",omitempty"`
}

type statusNoMethods Status

func toNanos(t time.Time) (int64, bool) {
	if t.IsZero() {
		return 0, true
	}
	return t.UnixNano(), false
}

func fromNanos(n int64, zero bool) time.Time {
	if zero {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// MarshalCBOR encodes s for the control channel, times to the nanosecond.
func (s Status) MarshalCBOR() ([]byte, error) {
	w := statusWire{S: statusNoMethods(s)}
	w.Created, w.CreatedZ = toNanos(s.Created)
	w.Started, w.StartedZ = toNanos(s.Started)
	w.Ended, w.EndedZ = toNanos(s.Ended)
	return cbor.Marshal(w)
}

// UnmarshalCBOR decodes what MarshalCBOR encoded.
func (s *Status) UnmarshalCBOR(b []byte) error {
	var w statusWire
	if err := cbor.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = Status(w.S)
	s.Created = fromNanos(w.Created, w.CreatedZ)
	s.Started = fromNanos(w.Started, w.StartedZ)
	s.Ended = fromNanos(w.Ended, w.EndedZ)
	return nil
}

func init() {
	// Init-time registry of the service library: the types that cross
	// the host's socket.
	service.RegisterType(hostCall{}, response{}, attachFrame{}, stdinChunk{})
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
	"group_busy":   ErrGroupBusy,
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

// hostRef names a group host's service for a Manager's client.
type hostRef struct {
	c     *service.Client
	group string
}

// dial connects to the host's service (one attempt: the Manager's own
// loops decide when to retry).
func (r hostRef) dial(ctx context.Context) (*service.Conn, error) {
	return r.c.Discover(ctx, hostPublisher, hostServiceName(r.group))
}

// isConnErr says whether err means the host is gone rather than that it
// refused the request.
func isConnErr(err error) bool {
	var re *remoteError
	if errors.As(err, &re) {
		return false
	}
	return errors.Is(err, service.ErrNotFound) || errors.Is(err, service.ErrClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
