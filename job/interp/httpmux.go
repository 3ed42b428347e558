package interp

import (
	"expvar"
	"net/http"
	"net/http/pprof"
	"sync"
)

// The host process links net/http/pprof and expvar (the standard library
// tables offer them to programs; the gateway's metrics library imports
// expvar), and their init functions register /debug/pprof/ and
// /debug/vars on http.DefaultServeMux. A program that serves the default
// mux, as `http.ListenAndServe(addr, nil)` does, would then expose the
// host's profiles and variables, which compiled Go does not: a leak of
// the whole group's memory to anyone who can reach the program's port.
// Before the first program runs, the default mux is replaced with an empty
// one (warren itself never serves it); a program that imports either
// package gets its handlers as that package's init would register them.

// Each happens once per process; the mux itself is safe for concurrent
// registrations.
var resetMux, pprofMux, expvarMux sync.Once

// prepareDefaultMux runs before each interpreted program with the set of
// packages it imports.
func prepareDefaultMux(imports map[string]bool) {
	resetMux.Do(func() { http.DefaultServeMux = new(http.ServeMux) })
	if imports["net/http/pprof"] {
		pprofMux.Do(func() {
			// as net/http/pprof's init does
			http.HandleFunc("/debug/pprof/", pprof.Index)
			http.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
			http.HandleFunc("/debug/pprof/profile", pprof.Profile)
			http.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
			http.HandleFunc("/debug/pprof/trace", pprof.Trace)
		})
	}
	if imports["expvar"] {
		expvarMux.Do(func() { http.Handle("/debug/vars", expvar.Handler()) })
	}
}
