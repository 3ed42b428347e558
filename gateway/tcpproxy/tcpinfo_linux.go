package tcpproxy

import (
	"net"
	"time"

	"github.com/warren-mesh/warren/internal/tcpinfo"
)

// lastData returns how long ago c last sent or received data, from TCP_INFO.
func lastData(c net.Conn) (time.Duration, bool) {
	info, ok := tcpinfo.Of(c)
	if !ok {
		return 0, false
	}
	ms := min(info.Last_data_sent, info.Last_data_recv)
	return time.Duration(ms) * time.Millisecond, true
}
