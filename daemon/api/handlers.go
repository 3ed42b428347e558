package api

import (
	"errors"
	"fmt"
	"sync"

	"github.com/warren-mesh/warren/service"
)

// Errors the daemon returns that callers test with errors.Is; registered so
// that they survive the trip over the socket.
var (
	// ErrDenied: the caller is not the daemon's user, root, or a member of
	// its control group.
	ErrDenied = errors.New("permission denied: only the daemon's user, root or members of its control group may control it")
	// ErrNoBackend: the process publishing {warren, daemon} has no daemon
	// attached (a bug, or a request racing shutdown).
	ErrNoBackend = errors.New("daemon is not serving requests")
	// ErrBadRequest: a malformed request (bad pattern, unknown target...).
	ErrBadRequest = errors.New("bad request")
)

func init() {
	service.RegisterType(
		InfoReq{}, Info{},
		RunReq{}, Input{}, Output{}, Exit{},
		PsReq{}, Jobs{}, Job{},
		StopReq{}, StartReq{}, RemoveReq{},
		KillReq{}, Killed{}, MoveReq{},
		LogReq{},
		JobListSaveReq{}, JobList{}, JobListLoadReq{},
		OK{},
	)
	service.RegisterError(ErrDenied, ErrNoBackend, ErrBadRequest)
}

// KnownMessages are the request types {warren, daemon} handles, for Publish.
func KnownMessages() []any {
	return []any{
		InfoReq{}, RunReq{}, PsReq{}, StopReq{}, StartReq{}, RemoveReq{},
		KillReq{}, MoveReq{}, LogReq{}, JobListSaveReq{}, JobListLoadReq{},
	}
}

// Backend serves the requests: the daemon implements it. Serve gets every
// request with the stream it arrived on and returns the reply (a value, an
// error, or nil when it has already answered on the stream).
type Backend interface {
	Serve(s *service.Stream, req any) (reply any)
}

// The service library hands a handler its message and stream but nothing of
// the server that published it, so the handlers find their daemon through
// this process-wide slot. One daemon per process is how warren runs (the
// work-dir lock makes it so per work dir); Attach refuses a second one
// rather than letting it answer for the first.
var (
	backendMu sync.Mutex
	backend   Backend
)

// Attach makes b the backend of this process's {warren, daemon} handlers
// and returns the function that detaches it.
func Attach(b Backend) (detach func(), err error) {
	backendMu.Lock()
	defer backendMu.Unlock()
	if backend != nil {
		return nil, fmt.Errorf("api: attach: another daemon already serves in this process")
	}
	backend = b
	return func() {
		backendMu.Lock()
		if backend == b {
			backend = nil
		}
		backendMu.Unlock()
	}, nil
}

func dispatch(s *service.Stream, req any) any {
	backendMu.Lock()
	b := backend
	backendMu.Unlock()
	if b == nil {
		return ErrNoBackend
	}
	return b.Serve(s, req)
}

// Handle implements service.KnownMessage.
func (r InfoReq) Handle(s *service.Stream) any { return dispatch(s, r) }

// Handle implements service.KnownMessage.
func (r RunReq) Handle(s *service.Stream) any { return dispatch(s, r) }

// Handle implements service.KnownMessage.
func (r PsReq) Handle(s *service.Stream) any { return dispatch(s, r) }

// Handle implements service.KnownMessage.
func (r StopReq) Handle(s *service.Stream) any { return dispatch(s, r) }

// Handle implements service.KnownMessage.
func (r StartReq) Handle(s *service.Stream) any { return dispatch(s, r) }

// Handle implements service.KnownMessage.
func (r RemoveReq) Handle(s *service.Stream) any { return dispatch(s, r) }

// Handle implements service.KnownMessage.
func (r KillReq) Handle(s *service.Stream) any { return dispatch(s, r) }

// Handle implements service.KnownMessage.
func (r MoveReq) Handle(s *service.Stream) any { return dispatch(s, r) }

// Handle implements service.KnownMessage.
func (r LogReq) Handle(s *service.Stream) any { return dispatch(s, r) }

// Handle implements service.KnownMessage.
func (r JobListSaveReq) Handle(s *service.Stream) any { return dispatch(s, r) }

// Handle implements service.KnownMessage.
func (r JobListLoadReq) Handle(s *service.Stream) any { return dispatch(s, r) }
