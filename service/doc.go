// Package service is warren's RPC library: a program publishes a service
// under a name {publisher, service}; another program, in the same process
// or elsewhere on the machine (later the LAN or the WAN), discovers it by
// that name and exchanges messages with it.
//
//	type Req struct{ Msg string }
//	func (r Req) Handle(s *service.Stream) any { return Reply{Msg: r.Msg} }
//
//	service.RegisterType(Req{}, Reply{})       // types that cross a process boundary
//	srv := service.NewServer(service.WithScope(service.ScopeOS | service.ScopeProcess))
//	err := srv.Publish("example", "echo", Req{}) // error if the name is taken
//	go srv.Serve(ctx)
//
//	c := service.NewClient(service.WithDiscoverTimeout(3 * time.Second))
//	conn, err := c.Discover(ctx, "example", "echo") // nearest scope first
//	var rep Reply
//	err = conn.SendRecv(ctx, Req{Msg: "hi"}, &rep)   // a handler's error comes back as err
//
// # Scopes
//
// Process scope hands values from client to handler and back through the
// worker pool and channels: no encoding, no copy (a struct is copied only
// as Go copies any value stored in an interface; pointers stay pointers).
// OS scope uses a unix socket per service in a socket directory (see
// discovery.SocketDir): mode 0700 directory, 0600 sockets, a flock(2)-held
// lock file per name so that a crashed server's socket never blocks the
// next start, and SO_PEERCRED credentials exposed to handlers
// (Stream.PeerCred) and checked against WithAllowedUIDs/WithAllowedGIDs.
// LAN and WAN plug in through WithBackend (a discovery.Registry and a
// transport.Transport) without changing this API.
//
// # Messages and streams
//
// A known message is a registered type with Handle(*Stream) (reply any); it
// runs on the server's worker pool. A non-nil reply is sent back; an error
// reply arrives as the error of the client's Recv/SendRecv: a *RemoteError
// whose Unwrap is the registered sentinel (RegisterError, for errors.Is)
// or the decoded value of a registered error type (RegisterType, for
// errors.As). A panic in a handler fails only that request (ErrHandlerPanic).
//
// Every connection multiplexes streams (Conn.NewStream). On the server a
// stream is shared by the handlers of the messages sent on it and carries a
// value store (SetValue/Value), a context canceled when the stream closes,
// and the peer's credentials. A handler may push (s.Send) and read the
// client's further messages that are not known messages (s.Recv), which
// is how publish/subscribe is built. Known messages sent on one stream may
// run concurrently; their replies come back in completion order, so use
// one outstanding request per stream (SendRecv), or Conn.SendRecv which
// takes a stream of its own per call and expects exactly one reply.
//
// A message type may implement Prioritized; under load the worker pool runs
// higher priorities first. The pool grows by one worker whenever a message
// is queued and no worker is idle (up to WithMaxWorkers), and a worker exits
// after WithWorkerIdleTimeout without work (down to WithMinWorkers);
// Server.Stats shows it.
//
// # Wire format
//
// Byte-stream scopes carry frames laid out as package codec documents: a
// 4-byte big-endian length, a 4-byte stream ID, a kind byte (1 message,
// 2 error, 3 close stream, 4 go away), a type-name length byte, the type
// name, and one CBOR item (github.com/fxamacker/cbor/v2) as the payload.
// Struct fields are CBOR map entries keyed by the Go field name (or a cbor
// tag). The error payload (kinds 2 and 4) is a map {"m": message,
// "s": registered sentinel's message, "t": registered error type name,
// "v": that value}. A client sends on increasing stream IDs from
// 1; the server creates its side of a stream on the first frame with a new
// ID. A malformed, oversized (WithMaxFrameSize) or unknown-type frame closes
// that connection: the side that saw it logs the reason, sends a go-away
// frame with it, and every pending call fails with an error wrapping
// ErrClosed and the cause (ErrMalformed, ErrFrameTooLarge, ErrUnknownType).
//
// # Concurrency and performance
//
// Server, Client and Conn are safe for concurrent use. A Stream takes one
// sender and one receiver at a time.
//
// Writes on a connection are batched: a sender that finds the connection
// idle writes its frame itself; frames queued meanwhile go out in one
// write by the connection's writer goroutine; a server holds ("corks") the
// replies to a batch of requests it has read until the batch is done.
//
// The server's reader runs a known message's handler itself when a worker
// slot is free and nothing is queued, saving a goroutine hand-off (a
// cross-CPU wake-up); if the handler runs longer than 200µs, a new
// goroutine takes over reading, so a slow or blocking handler never stalls
// the connection for longer than that. Otherwise handlers run on the pool.
//
// A client connection has no reader goroutine: the goroutine waiting in
// Recv reads the socket itself and hands frames of other streams to their
// waiters (whoever waits next takes over). So a sequential caller reads its
// reply directly, and a server's death is seen by the next call that waits
// (promptly by one already waiting), not in the background. A canceled
// wait interrupts the read with a deadline; the frame reader resumes.
//
// Every goroutine belongs to a Server (waited for by Close) or a Conn
// (waited for by Conn.Close). The only package-level state is the type
// registry (RegisterType, RegisterError) and the per-process Process scope
// table, which WithProcessRegistry replaces.
package service
