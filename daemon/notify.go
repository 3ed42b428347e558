package daemon

import (
	"fmt"
	"net"
	"strings"
)

// EnvNotifySocket is the variable systemd sets for Type=notify services.
const EnvNotifySocket = "NOTIFY_SOCKET"

// sdNotify sends state (for example "READY=1") to systemd's notification
// socket, as sd_notify(3) does: one datagram on a unix datagram socket whose
// path is in $NOTIFY_SOCKET ('@' prefix = abstract namespace). With no socket
// configured it does nothing, so the daemon runs the same outside systemd.
func sdNotify(socket, state string) error {
	if socket == "" {
		return nil
	}
	if !strings.HasPrefix(socket, "/") && !strings.HasPrefix(socket, "@") {
		return fmt.Errorf("sd_notify: unsupported %s=%q", EnvNotifySocket, socket)
	}
	addr := &net.UnixAddr{Name: socket, Net: "unixgram"}
	if socket[0] == '@' {
		addr.Name = "\x00" + socket[1:]
	}
	c, err := net.DialUnix("unixgram", nil, addr)
	if err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	return nil
}
