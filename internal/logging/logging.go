// Package logging builds warren's slog loggers and holds the attribute keys
// every package logs under, so that the same fact has the same key everywhere
// (a log search for "job" finds every line about a job).
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// Attribute keys. Use these constants, never ad-hoc strings, for facts that
// appear in more than one package.
const (
	KeyComponent = "component" // subsystem: "service", "daemon", "gateway", ...
	KeyNode      = "node"      // node ID (12 hex characters)
	KeyJob       = "job"       // job ID
	KeyGroup     = "group"     // runtime group name
	KeyService   = "service"   // "publisher/service"
	KeyScope     = "scope"     // WLOP bitmask or scope name
	KeyPeer      = "peer"      // remote address or peer credentials
	KeyRoute     = "route"     // gateway route (public port)
	KeyBackend   = "backend"   // gateway backend name
	KeyPID       = "pid"       // OS process ID
	KeyErr       = "err"       // an error value
	KeyReason    = "reason"    // why something was closed or refused
)

// Options configure New.
type Options struct {
	Level  string // debug, info, warn, error (default info)
	Format string // text, json, or "" = json unless w is a terminal
}

// ParseLevel turns a level name into a slog.Level.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("logging: unknown level %q (want debug, info, warn or error)", s)
}

// New returns a logger writing to w. With no explicit format it writes text
// to a terminal and JSON otherwise, so files and journald get structured lines.
func New(w io.Writer, o Options) (*slog.Logger, error) {
	lvl, err := ParseLevel(o.Level)
	if err != nil {
		return nil, err
	}
	ho := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(o.Format) {
	case "":
		if isTerminal(w) {
			return slog.New(slog.NewTextHandler(w, ho)), nil
		}
		return slog.New(slog.NewJSONHandler(w, ho)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, ho)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, ho)), nil
	}
	return nil, fmt.Errorf("logging: unknown format %q (want text or json)", o.Format)
}

// Discard is a logger that drops everything; library types use it when the
// caller gave none.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
