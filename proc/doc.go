// Package proc supervises operating-system processes for warren: it is the
// one place that starts, signals, stops and reaps child processes, shared by
// the job runner (package job) and the gateway's local backends.
//
// # What it owns
//
//   - Start runs a program in its own process group (Setpgid) with
//     Pdeathsig=SIGKILL, so the direct child never outlives its parent.
//     Signal and Stop act on the whole group: Stop sends SIGTERM, waits
//     Spec.Grace, then sends SIGKILL, and returns once the group is gone.
//   - When the group leader exits on its own, members it left behind in
//     its group (`sh -c 'a & b'`) get SIGTERM, then SIGKILL after the grace
//     period. The kernel keeps the group's number allocated while any
//     member lives, so signalling the group after the leader was reaped
//     cannot reach an unrelated process. Done is closed only once the
//     group is empty.
//   - BecomeSubreaper and Reaper: a daemon that is a child subreaper
//     inherits the orphans of its descendants; Reaper reaps those zombies.
//   - WaitReady (TCP or HTTP readiness), Backoff (exponential restart
//     delay with reset), LogRing (bounded in-memory capture) and
//     RotatingFile (timestamped, size-capped, rotated log files).
//
// # Reaper and the pid registry
//
// A Reaper must not reap a child that Start started (its Process would lose
// the exit status). Start therefore holds a package-internal read lock while
// it forks and records the new pid in a registry; the Reaper takes the write
// lock, lists the zombie children of this process and reaps only those that
// are not registered. The registry is the package's only process-global
// state, because pids themselves are process-global.
//
// In a process that runs a Reaper, start children through proc (Start).
// A child started with os/exec directly is safe only thanks to
// Reaper.MinAge: an unregistered zombie is left alone for that long (1s by
// default), which its own Wait needs far less than; a Wait called later
// than that fails with ECHILD.
//
// # Limits
//
// A descendant that leaves the process group (setsid, setpgid) escapes
// Signal and Stop; with a subreaper it is at least reaped once it exits.
// Pdeathsig reaches the direct child only: if the parent is SIGKILLed,
// grandchildren in the group are orphaned to the next subreaper.
// Pdeathsig is tied to the OS thread that forked; the Go runtime does not
// retire threads unless a goroutine exits while locked to one, which proc
// never does.
package proc
