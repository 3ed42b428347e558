package daemon

import (
	"bytes"
	"testing"
)

// FuzzLastLines: log files are outside bytes; whatever they hold, the tail
// is a suffix of the data with at most n line breaks before its last byte.
func FuzzLastLines(f *testing.F) {
	f.Add([]byte("a\nb\nc\n"), 2)
	f.Add([]byte(""), 1)
	f.Add([]byte("\n\n\n"), 0)
	f.Add([]byte("no newline"), 5)
	f.Fuzz(func(t *testing.T, data []byte, n int) {
		if n > 1<<16 || n < -1<<16 {
			return
		}
		got := lastLines(data, n)
		if !bytes.HasSuffix(data, got) {
			t.Fatalf("lastLines(%q, %d) = %q: not a suffix", data, n, got)
		}
		if n <= 0 {
			if !bytes.Equal(got, data) {
				t.Fatalf("n=%d must return everything", n)
			}
			return
		}
		body := bytes.TrimSuffix(got, []byte("\n"))
		if c := bytes.Count(body, []byte("\n")); c > n-1 {
			t.Fatalf("lastLines(%q, %d) = %q has %d lines", data, n, got, c+1)
		}
	})
}
