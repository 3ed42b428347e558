// Package codec owns warren's wire framing: how one message travels over a
// byte stream (unix socket, TCP, TLS). It knows nothing about Go types; the
// service package encodes payloads as CBOR and resolves type names.
//
// # Frame layout
//
// Every frame is a fixed 10-byte header, a type name and a payload.
// All integers are big-endian.
//
//	offset  size  field
//	0       4     length: number of bytes that follow this field
//	              (6 + N + payload length); at most the reader's maximum
//	4       4     stream ID (0 = the connection itself)
//	8       1     kind (see Kind)
//	9       1     N, length of the type name (0..255)
//	10      N     type name, UTF-8 without control characters ("" if none)
//	10+N    ...   payload: exactly one CBOR data item (RFC 8949), or empty
//
// A reader rejects a frame whose length is below 6 or above its maximum,
// whose type name overruns the frame or holds control characters, or whose
// kind is unknown. A rejected frame makes the connection unusable: the
// caller closes it with the FrameError as the reason.
package codec

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Kind says what a frame carries.
type Kind uint8

// Frame kinds.
const (
	KindMsg    Kind = 1 // a message on a stream: request, reply or push; type name + CBOR value
	KindErr    Kind = 2 // an error reply on a stream; payload is an error record (see service docs)
	KindClose  Kind = 3 // the sender closed the stream; no payload
	KindGoAway Kind = 4 // stream 0: the sender closes the connection; payload is an error record
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case KindMsg:
		return "msg"
	case KindErr:
		return "err"
	case KindClose:
		return "close"
	case KindGoAway:
		return "goaway"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

const (
	// LenSize is the size of the length prefix.
	LenSize = 4
	// HeaderSize is the fixed part of a frame including the length prefix.
	HeaderSize = 10
	// MaxTypeName is the longest type name a frame can carry.
	MaxTypeName = 255
	// DefaultMaxFrame is the default maximum of the length field (16 MiB).
	DefaultMaxFrame = 16 << 20
)

// Errors a reader or writer returns. They are wrapped in a *FrameError.
var (
	ErrFrameTooLarge = errors.New("frame too large")
	ErrMalformed     = errors.New("malformed frame")
)

// FrameError says why a frame was rejected.
type FrameError struct {
	Reason string // human-readable detail
	Err    error  // ErrFrameTooLarge, ErrMalformed, or a caller's sentinel
}

func (e *FrameError) Error() string {
	if e.Reason == "" {
		return "codec: " + e.Err.Error()
	}
	return "codec: " + e.Err.Error() + ": " + e.Reason
}

func (e *FrameError) Unwrap() error { return e.Err }

// Frame is one decoded frame. Type and Payload alias the reader's buffer and
// are valid only until the next call to Next.
type Frame struct {
	Stream  uint32
	Kind    Kind
	Type    []byte
	Payload []byte
}

// Reader reads frames from a byte stream, reusing one buffer. A read
// that fails with a timeout (a deadline used to interrupt a wait) keeps
// the frame read so far: the next call to Next resumes it.
type Reader struct {
	r   *bufio.Reader
	max int
	buf []byte
	lb  [LenSize]byte
	ln  int // bytes of the length prefix read
	n   int // frame length, once ln == LenSize
	got int // bytes of the frame body read
}

// NewReader returns a reader that rejects frames longer than max bytes
// (after the length prefix). max <= 0 means DefaultMaxFrame.
func NewReader(r io.Reader, max int) *Reader {
	if max <= 0 {
		max = DefaultMaxFrame
	}
	return &Reader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// Buffered returns how many bytes are already read from the stream but not
// yet returned as frames: 0 means the next Next will block on the stream.
func (r *Reader) Buffered() int { return r.r.Buffered() }

// HasFrame reports whether a whole frame is buffered, so that Next will
// return without reading from the stream.
func (r *Reader) HasFrame() bool {
	if r.ln != 0 || r.got != 0 {
		return false // a frame is half read: the rest is on the stream
	}
	if r.r.Buffered() < LenSize {
		return false // and Peek would block
	}
	b, err := r.r.Peek(LenSize)
	if err != nil {
		return false
	}
	n := uint64(binary.BigEndian.Uint32(b))
	return uint64(r.r.Buffered()) >= LenSize+n
}

// Next reads the next frame. It returns io.EOF at a clean end of stream,
// io.ErrUnexpectedEOF for a stream cut inside a frame, the underlying read
// error, or a *FrameError for a frame that breaks the layout.
func (r *Reader) Next() (Frame, error) {
	for r.ln < LenSize {
		m, err := r.r.Read(r.lb[r.ln:])
		r.ln += m
		if r.ln == LenSize {
			break
		}
		if err != nil {
			if err == io.EOF && r.ln > 0 {
				err = io.ErrUnexpectedEOF
			}
			return Frame{}, err
		}
		if m == 0 {
			return Frame{}, io.ErrNoProgress
		}
	}
	if r.got == 0 {
		n := binary.BigEndian.Uint32(r.lb[:])
		if uint64(n) > uint64(r.max) {
			return Frame{}, &FrameError{Err: ErrFrameTooLarge, Reason: fmt.Sprintf("%d bytes, limit %d", n, r.max)}
		}
		if n < HeaderSize-LenSize {
			return Frame{}, &FrameError{Err: ErrMalformed, Reason: fmt.Sprintf("length %d below header size", n)}
		}
		r.n = int(n)
		// Do not keep a huge buffer around after one big frame.
		if cap(r.buf) > 1<<20 && r.n < 64<<10 {
			r.buf = nil
		}
		if cap(r.buf) < r.n {
			r.buf = make([]byte, r.n)
		}
	}
	b := r.buf[:r.n]
	for r.got < r.n {
		m, err := r.r.Read(b[r.got:])
		r.got += m
		if r.got == r.n {
			break
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return Frame{}, err
		}
		if m == 0 {
			return Frame{}, io.ErrNoProgress
		}
	}
	r.ln, r.got = 0, 0
	return Parse(b)
}

// Parse decodes a frame body (everything after the length prefix).
func Parse(b []byte) (Frame, error) {
	if len(b) < HeaderSize-LenSize {
		return Frame{}, &FrameError{Err: ErrMalformed, Reason: "short header"}
	}
	f := Frame{
		Stream: binary.BigEndian.Uint32(b[0:4]),
		Kind:   Kind(b[4]),
	}
	tn := int(b[5])
	if f.Kind < KindMsg || f.Kind > KindGoAway {
		return Frame{}, &FrameError{Err: ErrMalformed, Reason: "unknown kind " + f.Kind.String()}
	}
	if 6+tn > len(b) {
		return Frame{}, &FrameError{Err: ErrMalformed, Reason: fmt.Sprintf("type name of %d bytes overruns frame", tn)}
	}
	f.Type = b[6 : 6+tn]
	if !validTypeName(f.Type) {
		return Frame{}, &FrameError{Err: ErrMalformed, Reason: fmt.Sprintf("bad type name %q", f.Type)}
	}
	f.Payload = b[6+tn:]
	if f.Kind == KindMsg && tn == 0 {
		return Frame{}, &FrameError{Err: ErrMalformed, Reason: "message without type name"}
	}
	return f, nil
}

func validTypeName(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, c := range b {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// Begin appends a frame header for stream, kind and type name to buf and
// returns the frame's start offset; append the payload, then call End.
func Begin(buf *bytes.Buffer, stream uint32, kind Kind, typ string) (int, error) {
	if len(typ) > MaxTypeName {
		return 0, &FrameError{Err: ErrMalformed, Reason: fmt.Sprintf("type name %q longer than %d bytes", typ, MaxTypeName)}
	}
	start := buf.Len()
	var h [HeaderSize]byte
	binary.BigEndian.PutUint32(h[4:8], stream)
	h[8] = byte(kind)
	h[9] = byte(len(typ))
	buf.Write(h[:])
	buf.WriteString(typ)
	return start, nil
}

// End patches the length of the frame started at start. If the frame is
// longer than max (DefaultMaxFrame if max <= 0) it removes the frame from
// buf and returns a *FrameError wrapping ErrFrameTooLarge.
func End(buf *bytes.Buffer, start, max int) error {
	if max <= 0 {
		max = DefaultMaxFrame
	}
	n := buf.Len() - start - LenSize
	if n > max {
		buf.Truncate(start)
		return &FrameError{Err: ErrFrameTooLarge, Reason: fmt.Sprintf("%d bytes, limit %d", n, max)}
	}
	binary.BigEndian.PutUint32(buf.Bytes()[start:start+LenSize], uint32(n))
	return nil
}

// Append is Begin, a raw payload, and End in one call.
func Append(buf *bytes.Buffer, stream uint32, kind Kind, typ string, payload []byte, max int) error {
	start, err := Begin(buf, stream, kind, typ)
	if err != nil {
		return err
	}
	buf.Write(payload)
	return End(buf, start, max)
}
