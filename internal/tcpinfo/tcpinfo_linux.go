// Package tcpinfo reads the kernel's per-connection TCP counters
// (TCP_INFO) of a net.Conn: when data last moved, how much the peer has
// acknowledged. The gateway uses them to tell an idle or stalled peer from
// a slow one without adding work to the data path.
package tcpinfo

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// Of returns c's TCP_INFO; false when c is no TCP socket (or closed).
func Of(c net.Conn) (*unix.TCPInfo, bool) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, false
	}
	var info *unix.TCPInfo
	var gerr error
	if err := rc.Control(func(fd uintptr) { info, gerr = FromFd(int(fd)) }); err != nil || gerr != nil {
		return nil, false
	}
	return info, true
}

// FromFd returns the TCP_INFO of socket fd.
func FromFd(fd int) (*unix.TCPInfo, error) {
	return unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
}
