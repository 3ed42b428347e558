package residency

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

func TestCommand(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, ""},
		{[]string{"version"}, "version"},
		{[]string{"--log-level", "debug", "daemon", "--workdir", "x"}, "daemon"},
		{[]string{"--log-level=debug", "__group", "g"}, "__group"},
		{[]string{"--log-format", "json", "run", "-i", "a.go"}, "run"},
		{[]string{"-h"}, ""},
	} {
		if got := command(c.args); got != c.want {
			t.Errorf("command(%q) = %q, want %q", c.args, got, c.want)
		}
	}
}

// mapping is one entry of /proc/self/smaps.
type mapping struct {
	head      string // the maps line: range, perms, offset, dev, inode, path
	perms     string
	path      string
	sizeKB    int
	rssKB     int
	anonymous bool
}

func smaps() ([]mapping, error) {
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return nil, err
	}
	var out []mapping
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			m := mapping{head: sc.Text(), perms: f[1], anonymous: len(f) == 5}
			if len(f) >= 6 {
				m.path = f[5]
			}
			out = append(out, m)
			continue
		}
		if len(out) == 0 || len(f) < 2 {
			continue
		}
		n, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "Size:":
			out[len(out)-1].sizeKB = n
		case "Rss:":
			out[len(out)-1].rssKB = n
		}
	}
	return out, sc.Err()
}

// residency reports how much of the executable is resident in this
// process's page tables: kB resident and kB mapped, over its mappings
// (its read-only ones only when PREFAULT_PROBE_RO is set).
func residency() (rss, size int, err error) {
	readOnly := os.Getenv("PREFAULT_PROBE_RO")
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, 0, err
	}
	ms, err := smaps()
	if err != nil {
		return 0, 0, err
	}
	for _, m := range ms {
		if m.path == exe && (readOnly == "" || m.perms[1] != 'w') {
			rss += m.rssKB
			size += m.sizeKB
		}
	}
	if size == 0 {
		return 0, 0, fmt.Errorf("no mapping of %s in /proc/self/smaps", exe)
	}
	return rss, size, nil
}

// TestMain lets the test binary act as a fresh process for
// TestPopulateMapsExecutable: with PREFAULT_PROBE set it prints the
// executable's residency (after calling populate if asked) and exits.
func TestMain(m *testing.M) {
	switch os.Getenv("PREFAULT_PROBE") {
	case "":
		os.Exit(m.Run())
	case "populate":
		populate()
	case "trim":
		if err := Trim(); err != nil {
			fmt.Fprintln(os.Stderr, "trim:", err)
			os.Exit(1)
		}
	}
	rss, size, err := residency()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(rss, size)
	os.Exit(0)
}

// probe runs this test binary as a new process that reports the
// executable's residency: kB resident and kB mapped.
func probe(t *testing.T, env ...string) (rss, size int) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("probe %v: %v: %s", env, err, ee.Stderr)
		}
		t.Fatalf("probe %v: %v", env, err)
	}
	if _, err := fmt.Sscan(string(out), &rss, &size); err != nil {
		t.Fatalf("probe %v: output %q: %v", env, out, err)
	}
	return rss, size
}

// TestPopulateMapsExecutable checks the effect that matters, in fresh
// processes: without populate only part of the executable is resident in
// the process's page tables; after populate all of it is (Rss equals Size
// in /proc/self/smaps), whether populate runs from init (the default) or
// is called; WARREN_NO_PREFAULT turns the init's call off.
func TestPopulateMapsExecutable(t *testing.T) {
	rss, size := probe(t, "PREFAULT_PROBE=none", "WARREN_NO_PREFAULT=1")
	t.Logf("no populate: %d of %d kB resident", rss, size)
	if rss == size {
		t.Skip("the whole executable is resident without populate here: cannot tell its effect")
	}
	if rss, size := probe(t, "PREFAULT_PROBE=populate", "WARREN_NO_PREFAULT=1"); rss != size {
		t.Errorf("populate called: %d of %d kB resident, want all", rss, size)
	}
	if rss, size := probe(t, "PREFAULT_PROBE=none"); rss != size {
		t.Errorf("populate from init: %d of %d kB resident, want all", rss, size)
	}
}

// TestTrim checks, in fresh processes, that Trim drops the read-only
// mappings of the executable that init populated in full: afterwards less
// of them is resident than in a process that never populated (which holds
// what its init functions touched), and the process goes on working (it
// reports after trimming, which faults its own reporting code back in).
func TestTrim(t *testing.T) {
	fresh, size := probe(t, "PREFAULT_PROBE=none", "PREFAULT_PROBE_RO=1", "WARREN_NO_PREFAULT=1")
	trimmed, _ := probe(t, "PREFAULT_PROBE=trim", "PREFAULT_PROBE_RO=1")
	t.Logf("read-only mappings of the executable: %d kB; resident in a fresh process %d kB, after populate and trim %d kB", size, fresh, trimmed)
	if trimmed >= fresh {
		t.Errorf("after trim %d kB resident, no less than a fresh process's %d kB", trimmed, fresh)
	}
}
