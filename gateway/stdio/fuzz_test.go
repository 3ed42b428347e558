package stdio

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// FuzzSniff: auto mode classifies a connection by its first bytes, which
// come from anyone. Sniff never panics, replays every byte it read, and
// calls HTTP only what starts with a method and a space.
func FuzzSniff(f *testing.F) {
	for _, s := range []string{"GET / HTTP/1.1\r\n\r\n", "POST /x HTTP/1.0\r\n", "SSH-2.0-x\r\n", "\x16\x03\x01\x00", "GE", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, b := net.Pipe()
		defer b.Close()
		go func() {
			a.Write(data)
			a.Close()
		}()
		sc, isHTTP, err := Sniff(b, time.Second, time.Second)
		if err != nil {
			if len(data) == 0 {
				return // EOF before any byte
			}
			t.Fatalf("Sniff: %v", err)
		}
		got, _ := io.ReadAll(sc)
		if !bytes.Equal(got, data) {
			t.Fatalf("replayed %q, sent %q", got, data)
		}
		if isHTTP {
			ok := false
			for _, m := range httpMethods {
				ok = ok || strings.HasPrefix(string(data), m)
			}
			if !ok {
				t.Fatalf("%q called HTTP", data)
			}
		}
	})
}
