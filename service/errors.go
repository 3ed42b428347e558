package service

import (
	"errors"

	"github.com/warren-mesh/warren/service/codec"
	"github.com/warren-mesh/warren/service/discovery"
)

// Sentinel errors. Those marked "wire" are registered, so errors.Is works
// on them on the far side of a connection.
var (
	ErrNotFound      = errors.New("service not found")
	ErrInvalidName   = errors.New("invalid name")
	ErrNameTaken     = discovery.ErrNameTaken // the error is a *discovery.TakenError naming the holder
	ErrClosed        = errors.New("connection closed")
	ErrStreamClosed  = errors.New("stream closed")
	ErrServerClosed  = errors.New("server closed")
	ErrNotRegistered = errors.New("type not registered") // wire
	ErrUnknownType   = errors.New("unknown type")        // wire
	ErrFrameTooLarge = codec.ErrFrameTooLarge            // wire
	ErrMalformed     = codec.ErrMalformed                // wire
	ErrHandlerPanic  = errors.New("handler panicked")    // wire
	ErrUnknownMsg    = errors.New("message not handled") // wire
	ErrPermission    = errors.New("peer not allowed")    // wire
	ErrScope         = errors.New("scope not available")
)

// FrameError is a connection-killing protocol error: a malformed, oversized
// or unknown-type frame seen by this side. When the peer saw it, the error
// is a go-away instead: it wraps ErrClosed and a *RemoteError carrying the
// peer's reason. Either way errors.Is(err, ErrFrameTooLarge / ErrMalformed
// / ErrUnknownType) tells which.
type FrameError = codec.FrameError

// RemoteError is an error a handler returned (or a failure on the far
// side), as seen by the client. Unwrap gives the registered sentinel or the
// decoded registered error value, so errors.Is and errors.As work.
type RemoteError struct {
	Msg string // the remote err.Error()
	Err error  // registered sentinel or error value; nil if unknown here
}

func (e *RemoteError) Error() string { return e.Msg }
func (e *RemoteError) Unwrap() error { return e.Err }

func init() {
	RegisterError(ErrNotRegistered, ErrUnknownType, ErrFrameTooLarge, ErrMalformed,
		ErrHandlerPanic, ErrUnknownMsg, ErrPermission, ErrNotFound, ErrServerClosed)
}
