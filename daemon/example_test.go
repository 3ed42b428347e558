package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/warren-mesh/warren/daemon"
	"github.com/warren-mesh/warren/daemon/api"
	"github.com/warren-mesh/warren/service"
)

// A daemon in a work dir of its own, and a client asking it who it is, as
// `warren info` does.
func Example() {
	dir, _ := os.MkdirTemp("", "warren-example-")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	d := &daemon.Daemon{WorkDir: dir}
	if err := d.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close(ctx)

	c := service.NewClient(service.WithScope(service.ScopeOS), service.WithSocketDir(daemon.SocketDir(dir)))
	conn, err := c.Discover(ctx, api.Publisher, api.Service)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	var in api.Info
	if err := conn.SendRecv(ctx, api.InfoReq{}, &in); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(in.NodeID == d.NodeID(), len(in.NodeID), in.WorkDir == dir)

	// A second daemon on the same work dir is refused, naming the first.
	err = (&daemon.Daemon{WorkDir: dir}).Start(ctx)
	fmt.Println(errors.Is(err, daemon.ErrAlreadyRunning))
	// Output:
	// true 12 true
	// true
}
