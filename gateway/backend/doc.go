// Package backend owns one gateway backend's life: the state machine
// (dormant, starting, ready, draining, stopped, failed), cold start on the
// first request, scale to zero after idle_timeout, restart backoff, passive
// health and bounded log capture (proc.LogRing).
//
// Readiness is known from the state machine, never probed per request: a
// request on a ready backend costs two atomic operations in Acquire and one
// in Release. Concurrent first requests trigger exactly one start; they wait
// for it in a bounded queue and all see its outcome (ready, ErrStartTimeout,
// ErrExited). A start that failed is not retried before its backoff expires:
// requests in between get ErrBackoff at once, so a broken command is never
// spawned once per request.
//
// The process itself is started through a Launcher (the gateway wires
// package proc, which owns process groups, SIGTERM then SIGKILL, and
// orphan reaping); this package never spawns anything itself.
//
// Concurrency: every Backend method is safe for concurrent use. One
// supervisor goroutine per process lifetime owns the process; Close waits
// for it. Lock order: Backend.mu only (never held while calling out).
package backend
