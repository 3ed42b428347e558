package listenq

import (
	"errors"
	"net"
	"testing"
)

func TestPushAcceptClose(t *testing.T) {
	l := New(&net.TCPAddr{Port: 7})
	a, b := net.Pipe()
	defer b.Close()
	go l.Push(a)
	c, err := l.Accept()
	if err != nil || c != a {
		t.Fatalf("Accept = %v %v, want the pushed conn", c, err)
	}
	l.Close()
	l.Close() // twice is fine
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
	// A push after Close closes the connection instead of blocking.
	x, y := net.Pipe()
	l.Push(x)
	if _, err := y.Read(make([]byte, 1)); err == nil {
		t.Fatal("pushed conn still open after Close")
	}
	if l.Addr().(*net.TCPAddr).Port != 7 {
		t.Fatal("Addr")
	}
}
