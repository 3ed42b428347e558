// Package cgi owns the two halves of CGI/1.1 (RFC 3875) the gateway's stdio
// http mode needs: building a child's environment from an *http.Request
// (Env), and parsing the header block a child writes before its body
// (ReadResponse), leaving the body to be streamed. It starts no processes:
// package stdio does that through proc.
package cgi

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

// ErrMalformed is matched (errors.Is) by every ReadResponse error caused by
// what the child wrote, as opposed to an I/O error.
var ErrMalformed = errors.New("cgi: malformed response header")

// MaxHeaderBytes is the default limit of a child's header block.
const MaxHeaderBytes = 64 << 10

// EnvOptions complete what the request alone does not say.
type EnvOptions struct {
	// ScriptName is the path prefix that selects the script (SCRIPT_NAME);
	// the rest of the URL path becomes PATH_INFO. Default "".
	ScriptName string
	// ServerSoftware is SERVER_SOFTWARE. Default "warren".
	ServerSoftware string
	// LocalAddr is the address the request arrived on ("127.0.0.1:8080"),
	// for SERVER_PORT when the Host header has no port. Default: from the
	// request's context (http.LocalAddrContextKey).
	LocalAddr string
	// Base is prepended to the CGI variables (the child's inherited
	// environment, e.g. PATH). A CGI variable overrides a Base entry of the
	// same name.
	Base []string
}

// Env returns the CGI/1.1 environment for r: the meta-variables of RFC 3875
// section 4.1, HTTP_* variables for the request headers, and REQUEST_URI,
// REMOTE_PORT and HTTPS as most servers add them.
//
// Security: AUTH_TYPE and REMOTE_USER are never set (the gateway
// authenticates no one); a header named Proxy is dropped (HTTP_PROXY would steer the
// child's own outgoing requests: "httpoxy"), and so are header names holding
// an underscore, which would otherwise be indistinguishable from a hyphen
// and let a client forge variables (nginx and Apache do the same).
func Env(r *http.Request, o EnvOptions) []string {
	vars := map[string]string{}
	order := []string{}
	set := func(k, v string) {
		if _, ok := vars[k]; !ok {
			order = append(order, k)
		}
		vars[k] = v
	}
	sw := o.ServerSoftware
	if sw == "" {
		sw = "warren"
	}
	set("GATEWAY_INTERFACE", "CGI/1.1")
	set("SERVER_SOFTWARE", sw)
	set("SERVER_PROTOCOL", r.Proto)
	set("REQUEST_METHOD", r.Method)
	set("QUERY_STRING", r.URL.RawQuery)
	set("REQUEST_URI", r.URL.RequestURI())
	script := strings.TrimSuffix(o.ScriptName, "/")
	pathInfo := r.URL.Path
	if script != "" && (pathInfo == script || strings.HasPrefix(pathInfo, script+"/")) {
		pathInfo = strings.TrimPrefix(pathInfo, script)
	}
	set("SCRIPT_NAME", script)
	set("PATH_INFO", pathInfo)

	host, port := r.Host, ""
	if h, p, err := net.SplitHostPort(r.Host); err == nil {
		host, port = h, p
	}
	local := o.LocalAddr
	if local == "" {
		if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			local = a.String()
		}
	}
	if port == "" {
		if _, p, err := net.SplitHostPort(local); err == nil {
			port = p
		} else if r.TLS != nil {
			port = "443"
		} else {
			port = "80"
		}
	}
	if host == "" {
		if h, _, err := net.SplitHostPort(local); err == nil {
			host = h
		}
	}
	set("SERVER_NAME", host)
	set("SERVER_PORT", port)
	if rh, rp, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		set("REMOTE_ADDR", rh)
		set("REMOTE_HOST", rh) // RFC 3875 4.1.9: the address when the name is not looked up
		set("REMOTE_PORT", rp)
	} else {
		set("REMOTE_ADDR", r.RemoteAddr)
		set("REMOTE_HOST", r.RemoteAddr)
	}
	if r.TLS != nil {
		set("HTTPS", "on")
	}
	// AUTH_TYPE and REMOTE_USER are left unset: RFC 3875 (4.1.1, 4.1.11)
	// gives them to a child whose server authenticated the user, and the
	// gateway checks no password. Set from a Basic header, REMOTE_USER would
	// be whatever name a client typed, trusted by scripts as verified. The
	// child still sees the credentials in HTTP_AUTHORIZATION to check itself.
	if r.ContentLength > 0 {
		set("CONTENT_LENGTH", strconv.FormatInt(r.ContentLength, 10))
	} // else unknown (chunked) or empty: unset, RFC 3875 4.1.2; the body ends at EOF on stdin
	if ct := r.Header.Get("Content-Type"); ct != "" {
		set("CONTENT_TYPE", ct)
	}
	for name, values := range r.Header {
		if strings.Contains(name, "_") {
			continue
		}
		k := strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		switch k {
		case "PROXY", "CONTENT_TYPE", "CONTENT_LENGTH":
			continue // httpoxy; the two content variables are set above
		}
		sep := ", "
		if k == "COOKIE" {
			sep = "; "
		}
		set("HTTP_"+k, strings.Join(values, sep))
	}
	if r.Host != "" {
		set("HTTP_HOST", r.Host)
	}

	env := make([]string, 0, len(o.Base)+len(order))
	for _, kv := range o.Base {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := vars[k]; ok {
			continue
		}
		env = append(env, kv)
	}
	for _, k := range order {
		env = append(env, k+"="+vars[k])
	}
	return env
}

// Response is a parsed CGI response header block. The body follows in the
// reader ReadResponse was given.
type Response struct {
	// Status is the HTTP status: from a "Status:" header, else 302 when a
	// Location is given, else 200.
	Status int
	// Header holds every header but Status, canonicalised.
	Header http.Header
}

// ReadResponse reads the header block a CGI child writes (RFC 3875 section
// 6): header lines ending in LF or CRLF up to a blank line. A first line
// "HTTP/1.x CODE REASON" (non-parsed-header style) sets the status. It stops right
// after the blank line, so br then yields the body. maxBytes bounds the
// header block (0 = MaxHeaderBytes). Errors caused by the child's output
// match ErrMalformed; a child that wrote nothing at all gives io.EOF.
func ReadResponse(br *bufio.Reader, maxBytes int) (*Response, error) {
	if maxBytes <= 0 {
		maxBytes = MaxHeaderBytes
	}
	resp := &Response{Header: http.Header{}}
	total := 0
	statusSeen := false
	for lineNo := 1; ; lineNo++ {
		line, err := readLine(br, maxBytes-total)
		total += len(line)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				if total == 0 {
					return nil, io.EOF
				}
				return nil, fmt.Errorf("%w: output ended inside the header block (no blank line after the headers)", ErrMalformed)
			}
			return nil, err
		}
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		if len(line) == 0 {
			break
		}
		if lineNo == 1 && bytes.HasPrefix(line, []byte("HTTP/1.")) {
			// A status line, as non-parsed-header scripts write it
			// ("HTTP/1.1 404 Not Found"): taken as the Status header.
			_, rest, _ := bytes.Cut(line, []byte(" "))
			code, err := parseStatus(string(rest))
			if err != nil {
				return nil, fmt.Errorf("%w: line 1: %v", ErrMalformed, err)
			}
			resp.Status, statusSeen = code, true
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			return nil, fmt.Errorf("%w: line %d: folded header lines are not allowed", ErrMalformed, lineNo)
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return nil, fmt.Errorf("%w: line %d: want \"Name: value\", got %q", ErrMalformed, lineNo, truncate(line))
		}
		if !validName(name) {
			return nil, fmt.Errorf("%w: line %d: bad header name %q", ErrMalformed, lineNo, truncate(name))
		}
		v := string(bytes.TrimSpace(value))
		if !validValue(v) {
			return nil, fmt.Errorf("%w: line %d: control character in the value of %s", ErrMalformed, lineNo, name)
		}
		key := textproto.CanonicalMIMEHeaderKey(string(name))
		if key == "Status" {
			if statusSeen {
				return nil, fmt.Errorf("%w: line %d: a second Status header", ErrMalformed, lineNo)
			}
			statusSeen = true
			code, err := parseStatus(v)
			if err != nil {
				return nil, fmt.Errorf("%w: line %d: %v", ErrMalformed, lineNo, err)
			}
			resp.Status = code
			continue
		}
		resp.Header.Add(key, v)
	}
	if resp.Status == 0 {
		resp.Status = http.StatusOK
		if resp.Header.Get("Location") != "" {
			resp.Status = http.StatusFound
		}
	}
	return resp, nil
}

// readLine reads one line of at most max bytes (its newline included).
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		line = append(line, frag...)
		if len(line) > max {
			return nil, fmt.Errorf("%w: header block larger than the limit", ErrMalformed)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF && len(line) > 0 {
				return line, io.ErrUnexpectedEOF
			}
			return line, err
		}
		return line, nil
	}
}

func parseStatus(v string) (int, error) {
	codeStr, _, _ := strings.Cut(v, " ")
	code, err := strconv.Atoi(codeStr)
	if err != nil || len(codeStr) != 3 || code < 100 || code > 999 {
		return 0, fmt.Errorf("bad Status %q (want \"404 Not Found\")", truncate([]byte(v)))
	}
	// A CGI response is final: a 1xx passed to net/http would be sent as an
	// interim answer (or, for 101, as a protocol switch that a front proxy
	// may believe, turning the connection into a tunnel), and codes above
	// 599 mean nothing to clients.
	if code < 200 || code > 599 {
		return 0, fmt.Errorf("bad Status %q (a CGI response needs a final status, 200 to 599)", truncate([]byte(v)))
	}
	return code, nil
}

func validName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c >= 127 || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

func validValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 127 {
			return false
		}
	}
	return true
}

func truncate(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "..."
	}
	return string(b)
}
