package httpproxy

import (
	"bytes"
	"errors"
)

// This file is the HTTP/1.1 framing of the event-loop lane (lane.go). It
// accepts only what it can forward without doubt; everything else goes to
// the fasthttp path, which answers it as before (errors included). That
// keeps the lane small and leaves request smuggling (ambiguous lengths,
// obsolete line folding, odd transfer codings) to one careful parser.

// maxLaneHead is the largest request or response head the lane reads
// (fasthttp's own limit on the fallback path is its 16 KiB read buffer).
const maxLaneHead = 16 << 10

// maxLaneBody is the largest request body the lane forwards; it keeps the
// whole request until the response starts, so that a request that failed
// on a stale keep-alive connection can be sent again.
const maxLaneBody = 64 << 10

var crlfcrlf = []byte("\r\n\r\n")

// laneReq is what the lane learned from a request head.
type laneReq struct {
	headLen    int // bytes of the head, final CRLF included
	bodyLen    int // Content-Length (0 without)
	head       bool
	idempotent bool
	host       []byte
	origin     bool   // an Origin header: CORS decides (general path)
	close      bool   // Connection: close
	xff, fwd   []byte // prior X-Forwarded-For, Forwarded
	hops       []byte // prior X-Warren-Hops
}

// errLaneFallback: the request is for the fasthttp path.
var errLaneFallback = errors.New("request needs the general path")

// parseLaneReq parses the request head at the start of b. It returns
// ok=false when the head is not complete yet, errLaneFallback when the
// lane does not take this request.
func parseLaneReq(b []byte, r *laneReq) (ok bool, err error) {
	end := bytes.Index(b, crlfcrlf)
	if end < 0 {
		if len(b) > maxLaneHead {
			return false, errLaneFallback
		}
		return false, nil
	}
	if end+4 > maxLaneHead {
		// Also when it came whole in one read: the general path answers
		// it (431), whatever the way TCP cut the bytes.
		return false, errLaneFallback
	}
	*r = laneReq{headLen: end + 4}
	head := b[:end+2]
	// Request line: METHOD SP target SP HTTP/1.1 CRLF.
	nl := bytes.IndexByte(head, '\n')
	line := head[:nl]
	if len(line) == 0 || line[len(line)-1] != '\r' {
		return false, errLaneFallback
	}
	line = line[:len(line)-1]
	sp1 := bytes.IndexByte(line, ' ')
	sp2 := bytes.LastIndexByte(line, ' ')
	if sp1 <= 0 || sp2 <= sp1+1 || string(line[sp2+1:]) != "HTTP/1.1" {
		return false, errLaneFallback
	}
	method := line[:sp1]
	for _, ch := range method {
		if ch < 'A' || ch > 'Z' {
			return false, errLaneFallback
		}
	}
	target := line[sp1+1 : sp2]
	if target[0] != '/' && string(target) != "*" {
		return false, errLaneFallback // absolute-form and authority-form: the general path
	}
	for _, ch := range target {
		if ch <= ' ' || ch >= 0x7f {
			return false, errLaneFallback
		}
	}
	switch string(method) {
	case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
		r.idempotent = true
		r.head = string(method) == "HEAD"
	case "POST", "PATCH":
	default: // CONNECT and the rest
		return false, errLaneFallback
	}
	seenCL := false
	for rest := head[nl+1:]; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		hl := rest[:i]
		rest = rest[i+1:]
		if len(hl) < 2 || hl[len(hl)-1] != '\r' {
			return false, errLaneFallback
		}
		hl = hl[:len(hl)-1]
		colon := bytes.IndexByte(hl, ':')
		if colon <= 0 {
			return false, errLaneFallback
		}
		name := hl[:colon]
		for _, ch := range name {
			if !isTokenChar(ch) {
				return false, errLaneFallback // also obs-fold (leading space)
			}
		}
		val := trimOWS(hl[colon+1:])
		for _, ch := range val {
			if ch < ' ' && ch != '\t' || ch == 0x7f {
				return false, errLaneFallback
			}
		}
		switch len(name) {
		case 4:
			if bytes.EqualFold(name, []byte("Host")) {
				if r.host != nil {
					return false, errLaneFallback
				}
				r.host = val
			}
		case 6:
			if bytes.EqualFold(name, []byte("Origin")) {
				r.origin = true
			}
		case 14:
			if bytes.EqualFold(name, []byte("Content-Length")) {
				n, ok := parseDigits(val)
				if seenCL || !ok || n > maxLaneBody {
					return false, errLaneFallback
				}
				seenCL, r.bodyLen = true, int(n)
			}
		case 15:
			if bytes.EqualFold(name, []byte("X-Forwarded-For")) {
				if r.xff != nil {
					return false, errLaneFallback
				}
				r.xff = val
			}
		case 9:
			if bytes.EqualFold(name, []byte("Forwarded")) {
				if r.fwd != nil {
					return false, errLaneFallback
				}
				r.fwd = val
			}
		case len(HopHeader):
			if bytes.EqualFold(name, []byte(HopHeader)) {
				if r.hops != nil {
					return false, errLaneFallback
				}
				r.hops = val
			}
		}
		if len(name) == 10 && bytes.EqualFold(name, []byte("Connection")) && bytes.EqualFold(val, []byte("close")) {
			r.close = true // served, then the connection closes
		} else if laneRefusedHeader(name, val) {
			return false, errLaneFallback
		}
	}
	if r.host == nil || r.bodyLen > maxLaneBody {
		return false, errLaneFallback
	}
	return true, nil
}

// laneRefusedHeader: headers the lane leaves to the general path: hop-by-hop
// ones other than "Connection: keep-alive" (or close), Expect (100-continue),
// Transfer-Encoding (chunked bodies) and Upgrade.
func laneRefusedHeader(name, val []byte) bool {
	switch {
	case isHopHeader(name):
		return true
	case len(name) == 10 && bytes.EqualFold(name, []byte("Connection")):
		return !bytes.EqualFold(val, []byte("keep-alive"))
	}
	return bytes.EqualFold(name, []byte("Expect")) || bytes.EqualFold(name, []byte("Transfer-Encoding"))
}

// appendLaneReq appends the request to send upstream: the client's head
// without the headers the gateway sets, then X-Forwarded-For,
// X-Forwarded-Proto, X-Forwarded-Host, Forwarded and the hop header (the
// values the general path's setForwarded gives), then the body.
func appendLaneReq(dst, src []byte, r *laneReq, ip []byte, id string) []byte {
	head := src[:r.headLen-2]
	nl := bytes.IndexByte(head, '\n')
	dst = append(dst, head[:nl+1]...)
	for rest := head[nl+1:]; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		hl := rest[:i+1]
		rest = rest[i+1:]
		colon := bytes.IndexByte(hl, ':')
		if dropOnLane(hl[:colon]) {
			continue
		}
		dst = append(dst, hl...)
	}
	dst = appendXFF(append(dst, "X-Forwarded-For: "...), r.xff, ip)
	dst = append(dst, "\r\nX-Forwarded-Proto: http\r\n"...)
	if len(r.host) > 0 {
		dst = append(append(append(dst, "X-Forwarded-Host: "...), r.host...), "\r\n"...)
	}
	dst = appendForwarded(append(dst, "Forwarded: "...), r.fwd, ip, "http", r.host)
	dst = appendHops(append(dst, "\r\n"+HopHeader+": "...), r.hops, id)
	dst = append(dst, "\r\n\r\n"...)
	return append(dst, src[r.headLen:r.headLen+r.bodyLen]...)
}

// dropOnLane: request headers the gateway replaces (or, for Connection,
// that are hop-by-hop).
func dropOnLane(name []byte) bool {
	switch len(name) {
	case 9:
		return bytes.EqualFold(name, []byte("Forwarded"))
	case 10:
		return bytes.EqualFold(name, []byte("Connection"))
	case 15:
		return bytes.EqualFold(name, []byte("X-Forwarded-For"))
	case 16:
		return bytes.EqualFold(name, []byte("X-Forwarded-Host"))
	case 17:
		return bytes.EqualFold(name, []byte("X-Forwarded-Proto"))
	case len(HopHeader):
		return bytes.EqualFold(name, []byte(HopHeader))
	}
	return false
}

func isTokenChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), c) >= 0
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// Response framing.
const (
	bodyNone    = iota // no body (HEAD, 1xx, 204, 304, Content-Length 0)
	bodyLength         // Content-Length bytes
	bodyChunked        // chunked coding, forwarded as is
	bodyClose          // until the backend closes
)

// laneResp is what the lane learned from a response head.
type laneResp struct {
	status    int
	headLen   int
	framing   int
	length    int64 // bodyLength: bytes
	keepAlive bool  // the backend connection may be reused after it
}

// errBadResponse: the backend's response cannot be forwarded.
var errBadResponse = errors.New("malformed response from backend")

// parseLaneResp parses a response head at the start of b and appends the
// head to send to the client (hop-by-hop headers dropped; Connection:
// close added when the body ends with the connection) to dst. With cors
// (a route whose CORS policy is on, and a request without Origin) it does
// what finishCORS does on the general path: the backend's
// Access-Control-* headers are dropped and Vary names Origin.
//
// respOpts says what the request asked for.
type respOpts struct {
	head  bool // a HEAD request: no body, whatever the headers say
	cors  bool // apply finishCORS's rules
	close bool // the client asked to close: say so
}

func parseLaneResp(dst, b []byte, o respOpts, r *laneResp) (out []byte, ok bool, err error) {
	end := bytes.Index(b, crlfcrlf)
	if end < 0 {
		if len(b) > maxLaneHead {
			return dst, false, errBadResponse
		}
		return dst, false, nil
	}
	if end+4 > maxLaneHead {
		return dst, false, errBadResponse // as the general path's 16 KiB read buffer
	}
	*r = laneResp{headLen: end + 4, keepAlive: true}
	head := b[:end+2]
	nl := bytes.IndexByte(head, '\n')
	line := head[:nl]
	// HTTP/1.x SP 3DIGIT [SP reason] CR
	if len(line) < 13 || string(line[:7]) != "HTTP/1." || line[8] != ' ' || line[len(line)-1] != '\r' || (len(line) > 13 && line[12] != ' ') {
		return dst, false, errBadResponse
	}
	if line[7] == '0' {
		r.keepAlive = false
	} else if line[7] != '1' {
		return dst, false, errBadResponse
	}
	st64, ok := parseDigits(line[9:12])
	st := int(st64)
	if !ok || st < 100 {
		return dst, false, errBadResponse
	}
	r.status = st
	dst = append(dst, "HTTP/1.1"...)
	dst = append(dst, line[8:]...)
	dst = append(dst, '\n')
	hdrStart := len(dst)
	cl := int64(-1)
	chunked, te := false, false
	varyOrigin := false
	for rest := head[nl+1:]; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		full := rest[:i+1]
		hl := rest[:i]
		rest = rest[i+1:]
		if len(hl) < 2 || hl[len(hl)-1] != '\r' {
			return dst, false, errBadResponse
		}
		hl = hl[:len(hl)-1]
		colon := bytes.IndexByte(hl, ':')
		if colon <= 0 || hl[0] == ' ' || hl[0] == '\t' {
			return dst, false, errBadResponse
		}
		name, val := hl[:colon], trimOWS(hl[colon+1:])
		if o.cors {
			if len(name) > 15 && bytes.EqualFold(name[:15], []byte("Access-Control-")) && isCORSStripped(name) {
				continue
			}
			if len(name) == 4 && bytes.EqualFold(name, []byte("Vary")) {
				for _, f := range bytes.Split(val, []byte{','}) {
					f = trimOWS(f)
					if string(f) == "*" || bytes.EqualFold(f, []byte("Origin")) {
						varyOrigin = true
					}
				}
			}
		}
		switch len(name) {
		case 10:
			if bytes.EqualFold(name, []byte("Connection")) {
				for _, f := range bytes.Split(val, []byte{','}) {
					f = trimOWS(f)
					if bytes.EqualFold(f, []byte("close")) {
						r.keepAlive = false
					} else if bytes.EqualFold(f, []byte("keep-alive")) && line[7] == '0' {
						r.keepAlive = true
					}
				}
				continue
			}
			if bytes.EqualFold(name, []byte("Keep-Alive")) {
				continue
			}
		case 14:
			if bytes.EqualFold(name, []byte("Content-Length")) {
				n, ok := parseDigits(val)
				if !ok || (cl >= 0 && cl != n) {
					return dst, false, errBadResponse
				}
				cl = n
			}
		case 16:
			if bytes.EqualFold(name, []byte("Proxy-Connection")) {
				continue
			}
		case 17:
			if bytes.EqualFold(name, []byte("Transfer-Encoding")) {
				// chunked must be the last coding (RFC 9112 6.1); other
				// codings end with the connection.
				codings := bytes.Split(val, []byte{','})
				te = true
				chunked = bytes.EqualFold(trimOWS(codings[len(codings)-1]), []byte("chunked"))
				if !chunked {
					r.keepAlive = false
				}
			}
		}
		dst = append(dst, full...)
	}
	if te && cl >= 0 {
		// RFC 9112 6.3: Transfer-Encoding overrides Content-Length, which
		// is not forwarded (a recipient that trusts it would misframe).
		dst = dropHeaderLines(dst, hdrStart, "Content-Length")
		cl = -1
	}
	switch {
	case st == 101:
		return dst, false, errBadResponse // no upgrade was asked for
	case o.head || st < 200 || st == 204 || st == 304:
		r.framing = bodyNone
	case chunked:
		r.framing = bodyChunked
	case te:
		r.framing = bodyClose // a coding other than chunked last: until the connection ends
		r.keepAlive = false
	case cl >= 0:
		r.framing, r.length = bodyLength, cl
		if cl == 0 {
			r.framing = bodyNone
		}
	default:
		r.framing = bodyClose
		r.keepAlive = false
	}
	if (r.framing == bodyClose || o.close) && st >= 200 {
		dst = append(dst, "Connection: close\r\n"...)
	}
	if o.cors && !varyOrigin && st >= 200 {
		dst = append(dst, "Vary: Origin\r\n"...)
	}
	return append(dst, "\r\n"...), true, nil
}

// chunkScanner finds the end of a chunked body while it streams past. It
// is as strict as net/http's reader (RFC 9112 7.1): lines end with CRLF
// (a bare CR or LF is an error), the size is hex digits followed only by
// whitespace and ";" extensions, trailer lines are "name: value". A
// backend that frames otherwise is a backend the lane cannot delimit, so
// the response fails rather than risk a desynchronised connection.
type chunkScanner struct {
	state int   // see below
	left  int64 // data bytes left in the current chunk
	line  int   // length of the size or trailer line so far
	size  int64
	hex   bool // the size line has a digit
	ext   bool // past the size digits (whitespace or an extension)
	semi  bool // in a ";" extension
	cr    bool // the line's last byte was CR: LF must follow
	colon bool // the trailer line has a colon
}

const (
	csSize   = iota // reading a chunk-size line
	csData          // inside chunk data
	csDataCR        // the CRLF after chunk data
	csDataLF
	csTrailer // trailer lines after the last chunk
	csDone
)

var errBadChunk = errors.New("malformed chunked body from backend")

// scan consumes b and returns how many bytes belong to the body (less
// than len(b) only when the body ended).
func (s *chunkScanner) scan(b []byte) (int, error) {
	i := 0
	for i < len(b) && s.state != csDone {
		switch s.state {
		case csSize, csTrailer:
			c := b[i]
			i++
			s.line++
			if s.line > 4096 {
				return i, errBadChunk
			}
			if s.cr != (c == '\n') {
				return i, errBadChunk // CR without LF, or LF without CR
			}
			if c == '\r' {
				s.cr = true
				continue
			}
			if c == '\n' {
				if err := s.endLine(); err != nil {
					return i, err
				}
				continue
			}
			if s.semi {
				continue // extensions are skipped whatever they hold (as net/http does)
			}
			if c < ' ' && c != '\t' || c == 0x7f {
				return i, errBadChunk
			}
			if s.state == csTrailer {
				switch {
				case s.colon:
				case c == ':':
					if s.line == 1 {
						return i, errBadChunk // no field name
					}
					s.colon = true
				case !isTokenChar(c):
					return i, errBadChunk
				}
				continue
			}
			switch {
			case !s.ext && hexVal(c) >= 0:
				if s.size > 1<<40 {
					return i, errBadChunk
				}
				s.size = s.size<<4 | int64(hexVal(c))
				s.hex = true
			case !s.hex:
				return i, errBadChunk // the line starts with the size
			case c == ';':
				s.ext, s.semi = true, true
			case c == ' ' || c == '\t':
				s.ext = true
			case !s.semi:
				return i, errBadChunk // junk after the digits
			}
		case csData:
			n := int64(len(b) - i)
			if n > s.left {
				n = s.left
			}
			i += int(n)
			s.left -= n
			if s.left == 0 {
				s.state = csDataCR
			}
		case csDataCR:
			if b[i] != '\r' {
				return i, errBadChunk
			}
			i++
			s.state = csDataLF
		case csDataLF:
			if b[i] != '\n' {
				return i, errBadChunk
			}
			i++
			s.state = csSize
		}
	}
	return i, nil
}

// endLine handles the CRLF ending a size or trailer line.
func (s *chunkScanner) endLine() error {
	empty := s.line == 2
	s.line, s.cr = 0, false
	if s.state == csTrailer {
		switch {
		case empty:
			s.state = csDone
		case !s.colon:
			return errBadChunk
		}
		s.colon = false
		return nil
	}
	if !s.hex {
		return errBadChunk
	}
	if s.size == 0 {
		s.state = csTrailer
	} else {
		s.state, s.left = csData, s.size
	}
	s.size, s.hex, s.ext, s.semi = 0, false, false, false
	return nil
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// done reports whether the body has ended.
func (s *chunkScanner) done() bool { return s.state == csDone }

// isCORSStripped reports whether name is one of the response headers only
// the gateway may set (corsStripped).
func isCORSStripped(name []byte) bool {
	for _, k := range corsStripped {
		if bytes.EqualFold(name, []byte(k)) {
			return true
		}
	}
	return false
}

// dropHeaderLines removes the header lines named name from dst[from:].
func dropHeaderLines(dst []byte, from int, name string) []byte {
	w := from
	for r := from; r < len(dst); {
		i := bytes.IndexByte(dst[r:], '\n')
		line := dst[r : r+i+1]
		colon := bytes.IndexByte(line, ':')
		if colon != len(name) || !bytes.EqualFold(line[:colon], []byte(name)) {
			w += copy(dst[w:], line)
		}
		r += i + 1
	}
	return dst[:w]
}

// parseDigits parses a Content-Length value: decimal digits only (no sign,
// no spaces), at most 18 of them.
func parseDigits(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
