package config

import (
	"fmt"
	"strconv"
)

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

// checkSocketAddrs refuses two programs with readiness type socket on one
// internal address: the gateway opens one socket per address, and two
// programs accepting on it would serve each other's traffic.
func (c Config) checkSocketAddrs() []*FieldError {
	var errs []*FieldError
	seen := map[string]string{} // host:port -> path of the first backend there
	for _, port := range c.Ports() {
		r := c.Routes[port]
		if r.Handoff || r.Readiness == nil || r.Readiness.Type != ReadySocket {
			continue
		}
		for i, b := range r.Backends {
			addr := b.Addr()
			if b.Kind() != KindProcess || addr == "" {
				continue
			}
			path := fmt.Sprintf("routes[%q].backends[%d]", port, i)
			if first, ok := seen[addr]; ok {
				errs = append(errs, fieldErr(path+".internal_port",
					"%s is also the socket of %s (readiness type socket): two programs cannot share one", addr, first))
				continue
			}
			seen[addr] = path
		}
	}
	return errs
}
