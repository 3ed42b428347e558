package backend

import (
	"context"
	"errors"
	"fmt"
	"net"
)

// ErrClientGone: the client hung up while its request waited for a start.
var ErrClientGone = errors.New("client closed the connection while waiting for the backend to start")

// AcquireConn is Acquire for a request that arrived on client: when the
// backend is not ready and the request has to wait, it also stops waiting
// (and frees its place in the queue at once) when the client closes or
// resets the connection. The connection is watched through a duplicate of
// its descriptor registered with the runtime's poller, so the watch sees
// the hang-up as it happens, costs nothing on the ready path and does not
// touch the connection's own deadlines or buffered bytes. A client that
// has already sent more bytes than were read (a pipelined request, a body
// still in the socket) cannot be told from one that hung up after sending
// them; its wait ends with ctx, the queue limit or the start as before.
func (b *Backend) AcquireConn(ctx context.Context, client net.Conn) error {
	if b.TryAcquire() {
		return nil
	}
	wctx, stop := watchHangup(ctx, client)
	err := b.acquireSlow(wctx)
	gone := stop()
	if err != nil && gone && ctx.Err() == nil {
		return fmt.Errorf("backend %s: %w", b.cfg.Name, ErrClientGone)
	}
	return err
}
