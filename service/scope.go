package service

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Scope is a bit set of where a service is visible. It prints as the
// "WLOP" bitmask: "--OP" is OS and Process.
type Scope uint8

// Scopes, nearest first.
const (
	ScopeProcess Scope = 1 << iota // same OS process: values pass through channels
	ScopeOS                        // same machine: unix domain sockets
	ScopeLAN                       // same network: TCP + mutual TLS
	ScopeWAN                       // anywhere: NATS
	ScopeAll     = ScopeProcess | ScopeOS | ScopeLAN | ScopeWAN
)

// scopeOrder lists single scopes nearest first.
var scopeOrder = [...]Scope{ScopeProcess, ScopeOS, ScopeLAN, ScopeWAN}

// String returns the WLOP bitmask, e.g. "--OP".
func (s Scope) String() string {
	b := []byte("----")
	for i, c := range "WLOP" {
		if s&(ScopeWAN>>uint(i)) != 0 {
			b[i] = byte(c)
		}
	}
	return string(b)
}

// ParseScope reads a WLOP bitmask ("--OP", "OP", "wlop") or a name
// ("process", "os", "lan", "wan", "all").
func ParseScope(str string) (Scope, error) {
	switch strings.ToLower(str) {
	case "process":
		return ScopeProcess, nil
	case "os":
		return ScopeOS, nil
	case "lan":
		return ScopeLAN, nil
	case "wan":
		return ScopeWAN, nil
	case "all":
		return ScopeAll, nil
	}
	var s Scope
	for _, c := range strings.ToUpper(str) {
		switch c {
		case 'W':
			s |= ScopeWAN
		case 'L':
			s |= ScopeLAN
		case 'O':
			s |= ScopeOS
		case 'P':
			s |= ScopeProcess
		case '-':
		default:
			return 0, fmt.Errorf("service: parse scope %q: want letters of WLOP or a scope name", str)
		}
	}
	if s == 0 {
		return 0, fmt.Errorf("service: parse scope %q: empty", str)
	}
	return s, nil
}

// MaxNameLen is the longest publisher or service name, in bytes.
const MaxNameLen = 64

// ValidateName checks a publisher or service name: non-empty, at most
// MaxNameLen bytes of UTF-8, no "/", whitespace or control characters, and
// not "." or "..". The error wraps ErrInvalidName.
func ValidateName(name string) error {
	bad := func(why string) error {
		return fmt.Errorf("service: name %q: %w: %s", name, ErrInvalidName, why)
	}
	switch {
	case name == "":
		return fmt.Errorf("service: %w: empty name", ErrInvalidName)
	case len(name) > MaxNameLen:
		return bad(fmt.Sprintf("longer than %d bytes", MaxNameLen))
	case !utf8.ValidString(name):
		return bad("not valid UTF-8")
	case name == "." || name == "..":
		return bad(`"." and ".." are reserved`)
	}
	for _, r := range name {
		switch {
		case r == '/':
			return bad(`contains "/"`)
		case unicode.IsSpace(r):
			return bad("contains whitespace")
		case unicode.IsControl(r) || r == utf8.RuneError:
			return bad("contains a control character")
		}
	}
	return nil
}

func validateNames(op, publisher, name string) error {
	if err := ValidateName(publisher); err != nil {
		return fmt.Errorf("%s: publisher: %w", op, err)
	}
	if err := ValidateName(name); err != nil {
		return fmt.Errorf("%s: service: %w", op, err)
	}
	return nil
}
