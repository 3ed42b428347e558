// Package gateway is warren's embeddable gateway engine: it owns public
// ports (routes), starts local backends on the first request, forwards
// HTTP, TCP and stdio traffic to them, stops idle ones, and reloads its
// configuration without dropping what did not change. It reads
// GopherMesh's config.json unchanged (package gateway/config).
//
//	eng, err := gateway.New(cfg, gateway.Options{Log: log})
//	if err != nil { ... }
//	err = eng.Run(ctx) // opens every listener (fails at once on port in use), serves until ctx ends, then shuts down
//
// The parts:
//   - gateway/backend: one backend's state machine (dormant, starting,
//     ready, draining, stopped, failed), cold start, idle stop, backoff.
//   - gateway/balance: round_robin, least_conn, ip_hash (all weighted),
//     passive health.
//   - gateway/httpproxy: the HTTP data path (an event-loop lane for plain
//     keep-alive requests, fasthttp for the rest), WebSocket, SSE.
//   - gateway/tcpproxy: the TCP byte pipe (splice, half-close).
//   - gateway/stdio: stdio workers, one stdio.Server per backend; a stdio
//     route balances requests (http mode) or connections (stream, auto)
//     across its backends with the route's policy (stdioroute.go).
//   - socket activation (readiness type socket, activation.go): the
//     engine opens a backend's listening socket and passes it as fd 3
//     (LISTEN_FDS, LISTEN_PID through a /bin/sh exec wrapper).
//   - package proc: every backend process (own process group, SIGTERM then
//     SIGKILL, no orphans).
//
// Reload computes a diff (config.Compare, config.CompareRoute): routes
// that did not change keep their listener, connections and processes; a
// route whose backends changed keeps its listener and swaps its pool
// atomically while changed backends drain and restart; a route whose
// listener settings changed (bind, protocol, server timeouts) gets a new
// listener. An identical config is a no-op; an invalid one is rejected and
// nothing changes.
//
// Concurrency: all Engine methods are safe for concurrent use. Engine.mu
// serialises Start, Reload and Shutdown; the data path never takes it.
// Lock order: Engine.mu, then a backend's own lock (never the reverse).
package gateway
