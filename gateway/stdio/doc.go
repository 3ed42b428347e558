// Package stdio owns the gateway's stdio routes: programs that speak over
// their standard input and output instead of listening on a port.
//
//   - Stream mode (ServeConn): one child per connection; the client's bytes
//     go to its stdin, its stdout goes back. Half-closes are passed on, and
//     the child is killed when the client goes away, the connection idles
//     past ConnIdleTimeout, or the server closes.
//   - HTTP mode (ServeHTTP, an http.Handler): one child per request, spoken
//     to as CGI/1.1 (package cgi): request meta-variables in the
//     environment, the body on stdin; the child's CGI header is honoured and
//     its body streamed to the client with a flush after every read. A
//     per-request deadline and an output limit kill the child.
//   - Auto mode (Serve): the first bytes of each connection pick the mode.
//
// Every child is started through package proc, in its own process group,
// and stopped with SIGTERM then SIGKILL; Close stops them all and waits for
// every handler, so nothing outlives the Server.
//
// A Server is configured through its exported fields before first use and
// is then safe for concurrent use.
package stdio
