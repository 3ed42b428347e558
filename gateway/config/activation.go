package config

import "strconv"

// ReadySocket is readiness by socket activation: the gateway itself opens
// the backend's listening socket on internal_host:internal_port and hands
// it to the process as file descriptor 3, with the systemd environment
// (LISTEN_FDS=1, LISTEN_PID=<the process's pid>, LISTEN_FDNAMES=<backend
// name>). The backend is ready as soon as it runs: connections made
// before it calls accept wait in the socket's backlog instead of being
// refused, and the socket (with its backlog) stays open across restarts
// and idle stops until the backend is removed. Only for http and tcp
// routes whose backends are programs with an internal_port.
const ReadySocket = "socket"

// validateSocketReadiness checks a route with readiness type socket.
func validateSocketReadiness(rp string, r Route, add func(string, string, ...any)) {
	if r.Readiness.Path != "" {
		add(rp+".readiness.path", "a path is only used by readiness type http")
	}
	if r.Protocol == ProtocolStdio {
		add(rp+".readiness.type", "socket activation needs a listening backend; stdio routes have none")
		return
	}
	for i, b := range r.Backends {
		if b.Kind() == KindProcess && b.InternalPort == "" {
			add(rp+".backends["+strconv.Itoa(i)+"].internal_port", "readiness type socket needs the port the gateway opens for the backend")
		}
	}
}
