package httpproxy

import "go.uber.org/goleak"

// FasthttpIgnores are goleak options for goroutines fasthttp starts and
// does not stop on Shutdown: its worker pool's cleaner and a HostClient's
// idle-connection cleaner sleep out their interval and then exit on their
// own. Tests of code built on this package pass them to leak checks.
var FasthttpIgnores = []goleak.Option{
	goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
	goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
	// Process-wide singletons started on first use: the Date header clock
	// and the DNS cache cleaner.
	goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
	goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"),
}
