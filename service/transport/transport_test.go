package transport_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/warren-mesh/warren/internal/testutil"
	"github.com/warren-mesh/warren/service/transport"
)

func TestUnixModeAndCred(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	ctx := context.Background()
	addr := filepath.Join(t.TempDir(), "x.sock")
	ln, err := transport.Unix{}.Listen(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if st, _ := os.Stat(addr); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %o", st.Mode().Perm())
	}
	done := make(chan transport.Cred, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(done)
			return
		}
		cred, _ := transport.PeerCred(c)
		c.Close()
		done <- cred
	}()
	c, err := transport.Unix{}.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, c)
	c.Close()
	cred := <-done
	if cred.UID != uint32(os.Getuid()) || cred.PID != int32(os.Getpid()) {
		t.Fatalf("cred %+v", cred)
	}
}

func TestMem(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	ctx := context.Background()
	var m transport.Mem
	if _, err := m.Dial(ctx, "a"); !errors.Is(err, transport.ErrRefused) {
		t.Fatalf("dial nobody: %v", err)
	}
	ln, err := m.Listen(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Listen(ctx, "a"); err == nil {
		t.Fatal("address reused")
	}
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Write([]byte("hi"))
			c.Close()
		}
	}()
	c, err := m.Dial(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	c.Close()
	if string(b) != "hi" {
		t.Fatalf("read %q", b)
	}
	ln.Close()
	if _, err := ln.Accept(); err == nil {
		t.Fatal("accept after close")
	}
}
