// Package api holds the messages of warren's builtin {warren, daemon}
// service: what the CLI (or any other client) sends the daemon and what it
// answers. Both sides import this package; the types are registered with the
// service library so they cross the OS-scope socket.
//
// The types are a wire contract, kept apart from the job package's internal
// model: fields are only ever added. JSON tags give `warren ... -o json` its
// stable field names.
package api

import "time"

// Publisher and Service name the builtin service every daemon publishes.
const (
	Publisher = "warren"
	Service   = "daemon"
)

// InfoReq asks the daemon who it is. Reply: Info.
type InfoReq struct{}

// Info describes a running daemon.
type Info struct {
	NodeID    string    `json:"node_id"`
	Version   string    `json:"version"`
	Commit    string    `json:"commit"`
	GoVersion string    `json:"go_version"`
	Platform  string    `json:"platform"`
	Features  []string  `json:"features"`
	WorkDir   string    `json:"work_dir"`
	PID       int       `json:"pid"`
	Started   time.Time `json:"started"`
	// UptimeSec is measured by the daemon, so it is right whatever the
	// caller's clock says.
	UptimeSec float64 `json:"uptime_sec"`
	// Gateway is the embedded gateway: whether it runs, its config file
	// (WORKDIR/gateway.json) and its routes.
	Gateway GatewayInfo `json:"gateway"`
}

// GatewayInfo describes the gateway embedded in the daemon.
type GatewayInfo struct {
	Running bool           `json:"running"`
	Config  string         `json:"config"`
	Admin   string         `json:"admin,omitempty"` // admin API URL
	Routes  []GatewayRoute `json:"routes"`
}

// GatewayRoute is one route of the embedded gateway.
type GatewayRoute struct {
	Port      string `json:"port"`
	Name      string `json:"name"`
	Protocol  string `json:"protocol"`
	Listen    string `json:"listen"`
	Listening bool   `json:"listening"`
	Backends  int    `json:"backends"`
}

// JobSpec says what to run. Paths are absolute: the CLI resolves them against
// the caller's working directory before sending.
type JobSpec struct {
	Name        string   `json:"name,omitempty"`
	Group       string   `json:"group,omitempty"`
	Path        string   `json:"path"`
	Args        []string `json:"args,omitempty"`
	Env         []string `json:"env,omitempty"`
	Dir         string   `json:"dir,omitempty"`
	Mode        string   `json:"mode,omitempty"`    // interpreted, compiled, auto
	Restart     string   `json:"restart,omitempty"` // no, on-failure[:N], always
	Interactive bool     `json:"interactive,omitempty"`
	AutoRemove  bool     `json:"auto_remove,omitempty"`
	RTPrio      int      `json:"rt_prio,omitempty"`
	MaxProcs    int      `json:"max_procs,omitempty"`
}

// Job is a job's definition and state, as ps shows it.
type Job struct {
	ID        string    `json:"id"`
	Spec      JobSpec   `json:"spec"`
	Requester string    `json:"requester,omitempty"`
	State     string    `json:"state"`
	PID       int       `json:"pid,omitempty"`
	Created   time.Time `json:"created"`
	Started   time.Time `json:"started,omitzero"`
	Ended     time.Time `json:"ended,omitzero"`
	ExitCode  int       `json:"exit_code"`
	Error     string    `json:"error,omitempty"`
	Restarts  int       `json:"restarts"`
	ModeUsed  string    `json:"mode_used,omitempty"`
	Note      string    `json:"note,omitempty"`
}

// RunReq creates and starts a job. Reply: Job. With Spec.Interactive the
// reply is followed, on the same stream, by the job's output as Output
// messages while the client sends Input messages, and ends with Exit.
type RunReq struct {
	Spec JobSpec
}

// Input carries bytes for an interactive job's stdin; EOF closes it.
type Input struct {
	Data []byte
	EOF  bool
}

// Output carries bytes a job wrote (interactive run, or log streaming).
type Output struct {
	Data []byte
}

// Exit ends an interactive run or a followed log: the job's exit code, or
// the error that ended the stream.
type Exit struct {
	Code  int
	Error string
}

// PsReq lists jobs whose ID, name or group match any of Patterns (shell
// globs; none = every job). Reply: Jobs.
type PsReq struct {
	Patterns []string
}

// Jobs is a list of jobs.
type Jobs struct {
	Jobs []Job
}

// StopReq stops a job (SIGTERM, then SIGKILL after a grace period for an
// executable; cancellation for an interpreted job). Reply: Job.
type StopReq struct{ ID string }

// StartReq starts a stopped or ended job again. Reply: Job.
type StartReq struct{ ID string }

// RemoveReq removes a job that is not running. Reply: Job (its last state).
type RemoveReq struct{ ID string }

// KillReq kills the groups matching Pattern (a glob). Without Force a group
// that still runs jobs is refused. Reply: Killed.
type KillReq struct {
	Pattern string
	Force   bool
}

// Killed names the groups KillReq ended.
type Killed struct {
	Groups []string
}

// MoveReq moves a job to another group: it restarts there with the same ID.
// Reply: Job.
type MoveReq struct {
	ID    string
	Group string
}

// LogReq reads a log: a job ID, "daemon", or a group name. N is the number
// of trailing lines (0 = all). The reply is a stream of Output messages
// ended by Exit; with Follow the stream goes on until the job ends or the
// client closes it.
type LogReq struct {
	Target string
	N      int
	Follow bool
}

// JobListSaveReq asks for the job list as YAML. Reply: JobList.
type JobListSaveReq struct{}

// JobList is a job list document (YAML: groups, jobs, options).
type JobList struct {
	YAML []byte
}

// JobListLoadReq recreates the jobs of a job list. Reply: Jobs (those created).
type JobListLoadReq struct {
	YAML []byte
}

// OK is the reply of requests that have nothing to say but success.
type OK struct{}
