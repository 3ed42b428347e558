package tcpinfo

import (
	"io"
	"net"
	"testing"
	"time"
)

// Of reads a real connection's counters: the bytes the peer read are
// acknowledged; a net.Pipe has none.
func TestOf(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 10000
	if _, err := c.Write(make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(s, make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		info, ok := Of(c)
		if !ok {
			t.Fatal("no TCP_INFO for a TCP connection")
		}
		if info.Bytes_acked >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("acknowledged %d of %d bytes after 5s", info.Bytes_acked, n)
		}
		time.Sleep(time.Millisecond)
	}
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	if _, ok := Of(p1); ok {
		t.Fatal("TCP_INFO for a net.Pipe")
	}
}
