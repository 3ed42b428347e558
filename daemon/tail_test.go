package daemon

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/warren-mesh/warren/internal/testutil"
)

func TestLastLines(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 0, "a\nb\nc\n"},
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc\n", 3, "a\nb\nc\n"},
		{"a\nb\nc\n", 9, "a\nb\nc\n"},
		{"a\nb\nc", 1, "c"},
		{"", 3, ""},
		{"\n\n", 1, "\n"},
	}
	for _, tt := range tests {
		if got := string(lastLines([]byte(tt.in), tt.n)); got != tt.want {
			t.Errorf("lastLines(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestTailFileFollowAcrossRotation(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	p := filepath.Join(t.TempDir(), "x.log")
	if err := os.WriteFile(p, []byte("1\n2\n3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := tailFile(context.Background(), p, 2, false, &out); err != nil || out.String() != "2\n3\n" {
		t.Fatalf("tail -n 2: %q %v", out.String(), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &testutil.SafeBuffer{}
	done := make(chan error, 1)
	go func() { done <- tailFile(ctx, p, 1, true, w) }()
	appendTo := func(s string) {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(s)
		f.Close()
	}
	want := func(s string) {
		testutil.Eventually(t, 20*time.Second, func() error {
			if got := w.String(); got != s {
				return fmt.Errorf("followed %q, want %q", got, s)
			}
			return nil
		})
	}
	want("3\n")
	appendTo("4\n")
	want("3\n4\n")
	// Rotate: the old file moves away, a new one takes its name.
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	want("3\n4\n5\n")
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("tail ended with %v", err)
	}
}
