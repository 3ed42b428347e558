package gateway

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// countConnsDiag is countConns through the kernel's sock_diag netlink
// interface (what ss uses): the kernel filters by state and local port
// and answers fixed-size binary records. Reading /proc/net/tcp instead
// formats every socket of the namespace as text: on a loaded machine with
// tens of thousands of sockets that took 1.7-4 s per look, which made the
// hand-off watcher slow to see connections (and to start a reload's new
// program).
func countConnsDiag(ip net.IP, port int) (int, error) {
	n := 0
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		m, err := diagCount(family, ip, port)
		if err != nil {
			if family == unix.AF_INET6 && errors.Is(err, unix.ENOENT) {
				continue // no IPv6 in this kernel
			}
			return 0, fmt.Errorf("sock_diag: %w", err)
		}
		n += m
	}
	return n, nil
}

// liveStates are the TCP states, as bits of inet_diag_req_v2.idiag_states,
// that hold a live connection (not LISTEN, TIME_WAIT or CLOSE):
// ESTABLISHED, SYN_SENT, SYN_RECV, FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT,
// LAST_ACK, CLOSING, NEW_SYN_RECV (include/net/tcp_states.h).
const liveStates = 1<<1 | 1<<2 | 1<<3 | 1<<4 | 1<<5 | 1<<8 | 1<<9 | 1<<11 | 1<<12

const (
	sizeofReqV2 = 56 // struct inet_diag_req_v2
	sizeofMsg   = 72 // struct inet_diag_msg
)

func diagCount(family uint8, ip net.IP, port int) (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	// nlmsghdr + inet_diag_req_v2 { family, protocol, ext, pad, states,
	// id { sport (big endian), dport, src[16], dst[16], if, cookie[8] } }.
	req := make([]byte, unix.NLMSG_HDRLEN+sizeofReqV2)
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(req[8:], 1) // sequence
	r := req[unix.NLMSG_HDRLEN:]
	r[0], r[1] = family, unix.IPPROTO_TCP
	ne.PutUint32(r[4:], liveStates)
	binary.BigEndian.PutUint16(r[8:], uint16(port)) // the kernel skips other local ports
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, err
	}
	want := ip
	if want != nil && want.IsUnspecified() {
		want = nil
	}
	buf := make([]byte, 64<<10)
	n := 0
	for {
		m, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return 0, err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:m])
		if err != nil {
			return 0, err
		}
		for _, msg := range msgs {
			switch msg.Header.Type {
			case unix.NLMSG_DONE:
				return n, nil
			case unix.NLMSG_ERROR:
				if len(msg.Data) >= 4 {
					if e := int32(ne.Uint32(msg.Data)); e != 0 {
						return 0, unix.Errno(-e)
					}
				}
				return 0, errors.New("netlink error")
			}
			d := msg.Data
			if len(d) < sizeofMsg {
				continue
			}
			// inet_diag_msg { family, state, timer, retrans, id {...} at 4,
			// expires, rqueue, wqueue, uid, inode at 68 }.
			if int(binary.BigEndian.Uint16(d[4:])) != port || ne.Uint32(d[68:]) == 0 {
				continue // another port, or no process holds it (queued, or closed and ending)
			}
			if want != nil && !diagAddr(d[0], d[8:24]).Equal(want) {
				continue
			}
			n++
		}
	}
}

// diagAddr is a socket's local address from inet_diag_sockid.idiag_src.
func diagAddr(family uint8, src []byte) net.IP {
	if family == unix.AF_INET {
		return net.IP(append([]byte(nil), src[:4]...))
	}
	return net.IP(append([]byte(nil), src[:16]...))
}
