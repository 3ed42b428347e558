package httpproxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"testing"
)

// FuzzLaneReqVsNetHTTP: a request head the lane takes (parseLaneReq ok)
// must be one net/http reads the same way: accepted, the same head
// length, Content-Length and Host. (The lane may refuse more: refusals go
// to the general path.)
func FuzzLaneReqVsNetHTTP(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
		"GET /a?b=c HTTP/1.1\r\nhost:  a.b:80 \r\nX-Forwarded-For: 1.2.3.4\r\nConnection: keep-alive\r\n\r\n",
		"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 0005\r\n\r\nabcde",
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
		"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n X: folded\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n",
		"DELETE * HTTP/1.1\r\nHost: \r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: x\r\nX-Warren-Hops: a,b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nX: a\x80b\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r laneReq
		ok, err := parseLaneReq(b, &r)
		if !ok || err != nil {
			return
		}
		br := bufio.NewReaderSize(bytes.NewReader(b), len(b)+16)
		req, herr := http.ReadRequest(br)
		if ue := new(url.Error); herr != nil && (errors.As(herr, &ue) || bytes.Contains([]byte(herr.Error()), []byte("URI"))) {
			return // the lane does not check the target; the backend answers 400
		}
		if herr != nil {
			t.Fatalf("lane takes %q, net/http refuses it: %v", b, herr)
		}
		if used := len(b) - br.Buffered(); used != r.headLen {
			t.Fatalf("%q: lane head %d bytes, net/http %d", b, r.headLen, used)
		}
		cl := req.ContentLength
		if cl < 0 {
			cl = 0
		}
		if cl != int64(r.bodyLen) || len(req.TransferEncoding) > 0 {
			t.Fatalf("%q: lane body %d, net/http %d %v", b, r.bodyLen, req.ContentLength, req.TransferEncoding)
		}
		if req.URL.Host == "" && req.Host != string(r.host) {
			t.Fatalf("%q: lane host %q, net/http %q", b, r.host, req.Host)
		}
	})
}

const chunkedHead = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"

// scanAll runs the chunk scanner over body in pieces of step bytes (0:
// all at once) and returns where the body ended (-1: not ended).
func scanAll(body []byte, step int) (int, error) {
	var s chunkScanner
	pos := 0
	for pos < len(body) {
		end := len(body)
		if step > 0 {
			end = min(pos+step, len(body))
		}
		n, err := s.scan(body[pos:end])
		pos += n
		if err != nil {
			return pos, err
		}
		if s.done() {
			return pos, nil
		}
	}
	return -1, nil
}

// FuzzChunkScannerVsNetHTTP: where the lane's chunk scanner ends a
// chunked response body must be where net/http ends it: the backend
// connection is reused from there, so any difference desyncs it. A body
// net/http reads whole must be ended by the scanner at the same byte; a
// body the scanner ends must be one net/http reads whole, to the same byte
// (the scanner may refuse net/http's leniencies: bare LF line ends, control
// bytes; refusing fails the response, which is safe).
func FuzzChunkScannerVsNetHTTP(f *testing.F) {
	for _, s := range []string{
		"0\r\n\r\n",
		"4;ext=1\r\nabcd\r\n3\r\nefg\r\n0\r\nX-T: v\r\n\r\n",
		"A\r\n0123456789\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n",
		"5\r\nhello\r\n0;a=b\r\nX: 1\r\nY: 2\r\n\r\nrest",
		"ffffffffffffffff\r\n",
		"5\r\nhel\r\n",
		"0\r\n\n",
		"0005\r\nhello\r\n0\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		end, err := scanAll(body, 0)
		for _, step := range []int{1, 3} {
			e2, err2 := scanAll(body, step)
			if e2 != end || (err == nil) != (err2 == nil) {
				t.Fatalf("%q: scanned whole: %d %v; in %d-byte pieces: %d %v", body, end, err, step, e2, err2)
			}
		}
		full := append([]byte(chunkedHead), body...)
		br := bufio.NewReaderSize(bytes.NewReader(full), len(full)+16)
		var hend int
		resp, herr := http.ReadResponse(br, &http.Request{Method: "GET"})
		if herr == nil {
			_, herr = io.ReadAll(resp.Body)
			hend = len(full) - br.Buffered() - len(chunkedHead)
		}
		switch {
		case err == nil && end >= 0 && herr != nil:
			t.Fatalf("%q: the scanner ends the body at %d, net/http refuses it: %v", body, end, herr)
		case err == nil && end >= 0 && end != hend:
			t.Fatalf("%q: net/http reads the body to %d, the scanner to %d", body, hend, end)
		case herr == nil && err == nil && end < 0:
			t.Fatalf("%q: net/http reads the body to %d, the scanner wants more", body, hend)
		case herr == nil && err != nil && canonicalChunked(body[:hend]):
			// Refusing what net/http reads is safe (the response fails, no
			// desync) for net/http's leniencies, but not for a body whose
			// lines all end in CRLF and hold no control bytes.
			t.Fatalf("%q: net/http reads the body to %d, the scanner refuses it: %v", body, hend, err)
		}
	})
}

// canonicalChunked: every LF follows a CR, every CR precedes an LF, and
// no other control byte appears.
func canonicalChunked(b []byte) bool {
	for i, c := range b {
		switch {
		case c == '\n':
			if i == 0 || b[i-1] != '\r' {
				return false
			}
		case c == '\r':
			if i+1 == len(b) || b[i+1] != '\n' {
				return false
			}
		case c < ' ' && c != '\t' || c == 0x7f:
			return false
		}
	}
	return true
}
