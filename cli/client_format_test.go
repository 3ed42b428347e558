package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestTable(t *testing.T) {
	tb := newTable("ID", "NAME", "STATUS")
	tb.add("a1", "hello", "running")
	tb.add("b22222", "", "bad\tname\n")
	var b bytes.Buffer
	if err := tb.write(&b); err != nil {
		t.Fatal(err)
	}
	want := "ID      NAME   STATUS\n" +
		"a1      hello  running\n" +
		"b22222  -      bad name \n"
	if b.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", b.String(), want)
	}
}

func TestKV(t *testing.T) {
	var b bytes.Buffer
	kv(&b, [2]string{"id", "x"}, [2]string{"work dir", "/tmp"})
	if b.String() != "id:       x\nwork dir: /tmp\n" {
		t.Fatalf("%q", b.String())
	}
}

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0s"},
		{45 * time.Second, "45s"},
		{3*time.Minute + 12*time.Second, "3m12s"},
		{2*time.Hour + 5*time.Minute, "2h05m"},
		{4*24*time.Hour + 3*time.Hour, "4d03h"},
	}
	for _, tt := range tests {
		if got := humanDuration(tt.d); got != tt.want {
			t.Errorf("humanDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestShortTime(t *testing.T) {
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.Local)
	if got := shortTime(now.Add(-time.Hour), now); got != "11:00:00" {
		t.Errorf("today: %q", got)
	}
	if got := shortTime(now.Add(-48*time.Hour), now); !strings.HasPrefix(got, "2026-03-02") {
		t.Errorf("earlier: %q", got)
	}
	if got := shortTime(time.Time{}, now); got != "-" {
		t.Errorf("zero: %q", got)
	}
}

func TestCheckOutput(t *testing.T) {
	if checkOutput("x", "json") != nil || checkOutput("x", "text") != nil {
		t.Fatal("valid formats refused")
	}
	if err := checkOutput("x", "yaml"); err == nil || !strings.Contains(err.Error(), "yaml") {
		t.Fatalf("yaml accepted: %v", err)
	}
}
