package proc

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warren-mesh/warren/internal/testutil"
)

func TestBackoffNext(t *testing.T) {
	b := Backoff{Base: 100 * time.Millisecond, Cap: time.Second, ResetAfter: 5 * time.Second}
	for _, tc := range []struct {
		attempt int
		want    time.Duration
	}{
		{-1, 100 * time.Millisecond},
		{0, 100 * time.Millisecond},
		{1, 200 * time.Millisecond},
		{2, 400 * time.Millisecond},
		{3, 800 * time.Millisecond},
		{4, time.Second},
		{1000, time.Second},
	} {
		if got := b.Next(tc.attempt); got != tc.want {
			t.Errorf("Next(%d) = %v, want %v", tc.attempt, got, tc.want)
		}
	}
	// Zero value: the defaults.
	var z Backoff
	if z.Next(0) != DefaultBackoff.Base || z.Next(100) != DefaultBackoff.Cap {
		t.Errorf("zero Backoff: %v %v", z.Next(0), z.Next(100))
	}
}

func TestTracker(t *testing.T) {
	tr := &Tracker{B: Backoff{Base: time.Second, Cap: 8 * time.Second, ResetAfter: time.Minute}}
	steps := []struct {
		uptime time.Duration
		want   time.Duration
	}{
		{0, time.Second},
		{time.Second, 2 * time.Second},
		{0, 4 * time.Second},
		{0, 8 * time.Second},
		{0, 8 * time.Second},
		{2 * time.Minute, time.Second}, // stayed up long enough: forgiven
		{0, 2 * time.Second},
	}
	for i, s := range steps {
		if got := tr.Failure(s.uptime); got != s.want {
			t.Fatalf("step %d: Failure(%v) = %v, want %v", i, s.uptime, got, s.want)
		}
	}
	tr.Success(time.Second)
	if tr.Failures() != 2 {
		t.Fatalf("short success reset the count: %d", tr.Failures())
	}
	tr.Success(time.Hour)
	if tr.Failures() != 0 {
		t.Fatalf("long success kept %d failures", tr.Failures())
	}
}

func TestLogRing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		max    int
		writes []string
		n      int
		want   []string
	}{
		{"empty", 10, nil, 0, nil},
		{"fits", 100, []string{"a\nb\n", "c"}, 0, []string{"a", "b", "c"}},
		{"last n", 100, []string{"a\nb\nc\n"}, 2, []string{"b", "c"}},
		{"cut first line dropped", 6, []string{"hello\nwor", "ld\n"}, 0, []string{"world"}},
		{"exact boundary kept", 6, []string{"abc\n", "xyz\n"}, 0, []string{"xyz"}},
		{"big write", 4, []string{"1234567\n89\n"}, 0, []string{"89"}},
		{"compaction", 8, []string{"aaaa\n", "bbbb\n", "cccc\n", "dd\n", "ee\n"}, 0, []string{"dd", "ee"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewLogRing(tc.max)
			for _, w := range tc.writes {
				r.Write([]byte(w))
			}
			got := r.Lines(tc.n)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("Lines = %q, want %q", got, tc.want)
			}
			if len(r.Bytes()) > tc.max {
				t.Fatalf("kept %d bytes > max %d", len(r.Bytes()), tc.max)
			}
		})
	}
}

func TestRotatingFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "job.log")
	rf, err := OpenRotatingFile(path, 200, 2)
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	rf.SetClock(func() time.Time { return clock })
	// Partial writes join one line under one timestamp.
	rf.Write([]byte("hel"))
	rf.Write([]byte("lo\nsecond line\n"))
	lines, err := TailLines(path, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	ts := clock.Format(TimeLayout)
	if want := []string{ts + " hello", ts + " second line"}; fmt.Sprint(lines) != fmt.Sprint(want) {
		t.Fatalf("lines %q, want %q", lines, want)
	}
	// 100 lines of ~45 bytes: many rotations, only 2 rotated files kept.
	for i := 0; i < 100; i++ {
		fmt.Fprintf(rf, "line %03d\n", i)
	}
	if err := rf.Close(); err != nil {
		t.Fatal(err)
	}
	files := LogFiles(path, 2)
	if len(files) != 3 || files[0] != path+".2" || files[2] != path {
		t.Fatalf("files %v", files)
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Fatal("kept more rotated files than asked")
	}
	for _, f := range files {
		st, _ := os.Stat(f)
		if st.Size() > 200 {
			t.Fatalf("%s is %d bytes, over the cap", f, st.Size())
		}
	}
	lines, err = TailLines(path, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{ts + " line 097", ts + " line 098", ts + " line 099"}; fmt.Sprint(lines) != fmt.Sprint(want) {
		t.Fatalf("tail %q, want %q", lines, want)
	}
	if _, err := rf.Write([]byte("x")); err == nil {
		t.Fatal("write after close succeeded")
	}
}

func TestRotatingFileStreamsConcurrent(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	path := filepath.Join(t.TempDir(), "out.log")
	rf, err := OpenRotatingFile(path, 1<<20, 1)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := rf.Stream()
			defer s.Close()
			for i := 0; i < 200; i++ {
				// Each line in three pieces: a Stream must keep it whole.
				fmt.Fprintf(s, "w%d ", w)
				fmt.Fprintf(s, "line ")
				fmt.Fprintf(s, "%d\n", i)
			}
			fmt.Fprintf(s, "w%d tail", w) // flushed by Close
		}()
	}
	wg.Wait()
	rf.Close()
	lines, err := TailLines(path, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 4*201 {
		t.Fatalf("%d lines, want %d", len(lines), 4*201)
	}
	for _, l := range lines {
		ts, rest, ok := strings.Cut(l, " ")
		if _, err := time.Parse(TimeLayout, ts); err != nil || !ok {
			t.Fatalf("bad timestamp in %q", l)
		}
		var w, i int
		if _, err := fmt.Sscanf(rest, "w%d line %d", &w, &i); err != nil {
			if _, err2 := fmt.Sscanf(rest, "w%d tail", &w); err2 != nil {
				t.Fatalf("interleaved line %q", l)
			}
		}
	}
}

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Stat
		ok   bool
	}{
		{"12 (sleep) S 1 12 12 0 -1", Stat{12, 'S', 1, 12, 12}, true},
		{"7 (a) b) (c) Z 3 4 5 0", Stat{7, 'Z', 3, 4, 5}, true},
		{"", Stat{}, false},
		{"x (y) S 1 2 3", Stat{}, false},
		{"1 (y) S 1 2", Stat{}, false},
		{"1 (y) SS 1 2 3", Stat{}, false},
	} {
		got, err := parseStat([]byte(tc.in))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseStat(%q) = %+v, %v", tc.in, got, err)
		}
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("12 (sleep) S 1 12 12 0 -1"))
	f.Add([]byte("7 (a) b) (c) Z 3 4 5 0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseStat(b) // must not panic
	})
}
