//go:build !linux

package backend

import (
	"context"
	"net"
)

// watchHangup does not watch on this platform: the wait ends with ctx.
func watchHangup(ctx context.Context, _ net.Conn) (context.Context, func() bool) {
	wctx, cancel := context.WithCancel(ctx)
	return wctx, func() bool { cancel(); return false }
}
