// Package job is warren's job model: what a job is (Spec, Status, the state
// machine, restart policies), where it runs (groups), and how its definition
// and state survive restarts.
//
// # Shape
//
// A Manager (one per daemon) owns the job table, persisted atomically in
// WorkDir/state.json. Every job belongs to a group; each group is one OS
// process, a GroupHost: the daemon's own binary started as `warren __group`
// (GroupMain), in a session of its own and without a death signal, so that
// groups and their jobs keep running when the daemon is killed or updated.
// A host publishes its control service {warren, group.<name>} in OS scope
// with the service library (socket dir Manager.SocketDir, by default
// WorkDir/run); a restarted daemon's Manager discovers it, greets the host
// and re-adopts it with its PID unchanged.
//
// Inside a host, Go programs run through an Interpreter (package job/interp),
// each as goroutines of the host, and executables run through package proc:
// own process group, SIGTERM then SIGKILL of the whole group on stop,
// Pdeathsig so that a host killed with SIGKILL takes its executables along;
// the host is a child subreaper and reaps what wrapper scripts orphan.
// Each job's stdout and stderr go, line by line with a timestamp, to
// WorkDir/logs/<id>.log, size-capped and rotated.
//
// # Restarts and quarantine
//
// The host applies a job's RestartPolicy (no, on-failure[:N], always) with
// exponential backoff (proc.Backoff, reset after a run stays up ResetAfter);
// QuarantineAfter quick failures in a row make a crash loop and the job is
// quarantined: it stays down, shown as such, until started by hand. The
// Manager does the same one level up: a host that dies is restarted with
// backoff and its jobs resumed; a host in a crash loop is quarantined along
// with its jobs.
//
// # Concurrency
//
// Manager methods are safe for concurrent use; 100 concurrent Runs into one
// new group start one host and reach running together. Every goroutine is
// owned by the Manager (waited for by Close) or by a GroupHost (waited for
// before Run returns), except the reader of an Attach caller's stdin, which
// ends when that reader returns.
package job
