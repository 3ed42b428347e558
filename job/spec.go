package job

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors callers test with errors.Is.
var (
	ErrNotFound    = errors.New("no such job or group")
	ErrGroupBusy   = errors.New("group has running jobs")
	ErrRunning     = errors.New("job is running")
	ErrNotRunning  = errors.New("job is not running")
	ErrBadSpec     = errors.New("bad job spec")
	ErrClosed      = errors.New("job manager closed")
	ErrGroupFailed = errors.New("group process failed")
	ErrNoInterp    = errors.New("interpreted jobs are not available in this build")
)

// Mode says how a Go program runs (issue "Interpreter fidelity").
type Mode string

// Modes. Executable is not a mode one asks for: it is the ModeUsed of a job
// whose path is not a Go program.
const (
	Interpreted Mode = "interpreted"
	Compiled    Mode = "compiled"
	Auto        Mode = "auto"
	Executable  Mode = "executable"
)

// ParseMode parses a mode name; "" means Auto.
func ParseMode(s string) (Mode, error) {
	switch Mode(strings.ToLower(strings.TrimSpace(s))) {
	case "", Auto:
		return Auto, nil
	case Interpreted:
		return Interpreted, nil
	case Compiled:
		return Compiled, nil
	}
	return "", fmt.Errorf("job: parse mode %q: %w (want interpreted, compiled or auto)", s, ErrBadSpec)
}

// Restart policy kinds.
const (
	RestartNo        = "no"
	RestartOnFailure = "on-failure"
	RestartAlways    = "always"
)

// RestartPolicy says when a job that ended is started again. MaxRetries
// (on-failure only) bounds the restarts; 0 means unbounded.
type RestartPolicy struct {
	Kind       string `json:"kind" yaml:"kind"`
	MaxRetries int    `json:"max_retries,omitempty" yaml:"max_retries,omitempty"`
}

// ParseRestartPolicy parses "no", "always", "on-failure" or "on-failure:N".
// "" means "no".
func ParseRestartPolicy(s string) (RestartPolicy, error) {
	kind, n, hasN := strings.Cut(strings.TrimSpace(s), ":")
	switch kind {
	case "", RestartNo, RestartAlways:
		if hasN {
			break
		}
		if kind == "" {
			kind = RestartNo
		}
		return RestartPolicy{Kind: kind}, nil
	case RestartOnFailure:
		p := RestartPolicy{Kind: kind}
		if hasN {
			v, err := strconv.Atoi(n)
			if err != nil || v < 0 {
				return RestartPolicy{}, fmt.Errorf("job: parse restart policy %q: retries must be a number >= 0: %w", s, ErrBadSpec)
			}
			p.MaxRetries = v
		}
		return p, nil
	}
	return RestartPolicy{}, fmt.Errorf("job: parse restart policy %q: %w (want no, on-failure[:N] or always)", s, ErrBadSpec)
}

// String formats p as ParseRestartPolicy reads it.
func (p RestartPolicy) String() string {
	switch {
	case p.Kind == "":
		return RestartNo
	case p.Kind == RestartOnFailure && p.MaxRetries > 0:
		return p.Kind + ":" + strconv.Itoa(p.MaxRetries)
	}
	return p.Kind
}

// shouldRestart says whether a run that ended with code (or err) is
// restarted, given the restarts already done.
func (p RestartPolicy) shouldRestart(code int, failed bool, restarts int) bool {
	switch p.Kind {
	case RestartAlways:
		return true
	case RestartOnFailure:
		return failed && (p.MaxRetries == 0 || restarts < p.MaxRetries)
	}
	return false
}

// Spec defines a job.
type Spec struct {
	ID          string        `json:"id"`
	Name        string        `json:"name"`
	Group       string        `json:"group"`
	Path        string        `json:"path"`
	Args        []string      `json:"args,omitempty"`
	Env         []string      `json:"env,omitempty"`
	Dir         string        `json:"dir,omitempty"`
	Mode        Mode          `json:"mode,omitempty"`
	Restart     RestartPolicy `json:"restart"`
	Interactive bool          `json:"interactive,omitempty"`
	AutoRemove  bool          `json:"auto_remove,omitempty"`
	RTPrio      int           `json:"rt_prio,omitempty"`   // group option: SCHED_RR priority
	MaxProcs    int           `json:"max_procs,omitempty"` // group option: GOMAXPROCS
	Requester   string        `json:"requester,omitempty"`
}

// DefaultGroup is the group of a job that names none.
const DefaultGroup = "default"

// ValidGroupName reports whether s can name a group (it names files): 1 to
// 64 of A-Z a-z 0-9 . _ -, starting with a letter or digit. (Checked by
// hand rather than with a regexp: compiling one at init cost every warren
// command, the CLI included, about a millisecond.)
func ValidGroupName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return false
		}
	}
	return true
}

// normalize fills defaults and validates s.
func (s *Spec) normalize() error {
	if s.Path == "" {
		return fmt.Errorf("job: spec: empty path: %w", ErrBadSpec)
	}
	if !filepath.IsAbs(s.Path) {
		abs, err := filepath.Abs(s.Path)
		if err != nil {
			return fmt.Errorf("job: spec: path %q: %w", s.Path, err)
		}
		s.Path = abs
	}
	if _, err := os.Stat(s.Path); err != nil {
		return fmt.Errorf("job: spec: %w: %w", err, ErrBadSpec)
	}
	if s.Group == "" {
		s.Group = DefaultGroup
	}
	if !ValidGroupName(s.Group) {
		return fmt.Errorf("job: spec: group %q: want 1-64 letters, digits, '.', '_' or '-': %w", s.Group, ErrBadSpec)
	}
	if s.Name == "" {
		s.Name = strings.TrimSuffix(filepath.Base(s.Path), ".go")
	}
	m, err := ParseMode(string(s.Mode))
	if err != nil {
		return err
	}
	s.Mode = m
	if s.Restart.Kind == "" {
		s.Restart.Kind = RestartNo
	}
	if _, err := ParseRestartPolicy(s.Restart.String()); err != nil {
		return err
	}
	if s.RTPrio < 0 || s.RTPrio > 99 {
		return fmt.Errorf("job: spec: rt priority %d: want 1-99: %w", s.RTPrio, ErrBadSpec)
	}
	if s.MaxProcs < 0 {
		return fmt.Errorf("job: spec: maxprocs %d: want >= 1: %w", s.MaxProcs, ErrBadSpec)
	}
	for _, e := range s.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return fmt.Errorf("job: spec: env %q: want KEY=VALUE: %w", e, ErrBadSpec)
		}
	}
	if s.ID != "" && !validID(s.ID) {
		return fmt.Errorf("job: spec: id %q: %w", s.ID, ErrBadSpec)
	}
	return nil
}

// validID reports whether s can be a job ID: 8 to 32 lower-case hex digits.
func validID(s string) bool {
	if len(s) < 8 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func newID() string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b[:])
}

// isGoProgram says whether path is Go source (a .go file, or a directory
// holding .go files) rather than an executable.
func isGoProgram(path string) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return strings.HasSuffix(path, ".go")
	}
	if !fi.IsDir() {
		return strings.HasSuffix(path, ".go")
	}
	m, _ := filepath.Glob(filepath.Join(path, "*.go"))
	return len(m) > 0
}

// State is a job's life-cycle state.
type State string

// States. created: defined, not started yet; starting: being started;
// running; stopping: stop requested; stopped: stopped on request; exited:
// ended with code 0; failed: ended with a non-zero code, a panic or an error;
// backoff: waiting to be restarted; quarantined: crash loop, no more restarts
// until started by hand.
const (
	StateCreated     State = "created"
	StateStarting    State = "starting"
	StateRunning     State = "running"
	StateStopping    State = "stopping"
	StateStopped     State = "stopped"
	StateExited      State = "exited"
	StateFailed      State = "failed"
	StateBackoff     State = "backoff"
	StateQuarantined State = "quarantined"
)

// Active reports whether the job is (or is about to be) running.
func (s State) Active() bool {
	switch s {
	case StateStarting, StateRunning, StateStopping, StateBackoff:
		return true
	}
	return false
}

// Terminal reports whether the job has ended and will not restart by itself.
func (s State) Terminal() bool {
	switch s {
	case StateStopped, StateExited, StateFailed, StateQuarantined:
		return true
	}
	return false
}

// Status is a job's definition and state.
type Status struct {
	Spec
	State    State     `json:"state"`
	PID      int       `json:"pid,omitempty"` // the executable's pid, or the group's for an interpreted job
	Created  time.Time `json:"created"`
	Started  time.Time `json:"started,omitzero"`
	Ended    time.Time `json:"ended,omitzero"`
	ExitCode int       `json:"exit_code"`
	Error    string    `json:"error,omitempty"`
	Restarts int       `json:"restarts"`
	ModeUsed Mode      `json:"mode_used,omitempty"`
	Note     string    `json:"note,omitempty"`
	// Seq orders a job's status reports: it grows with every change a group
	// host makes (seeded from the clock, so it also grows across host
	// restarts). A report older than the one held is dropped.
	Seq int64 `json:"seq,omitempty"`
}
