package residency

import (
	"bytes"
	"os"
	"syscall"
)

// Trim drops this process's page-table entries for the read-only mappings
// of its executable (code and constant data). The pages stay in the page
// cache, shared with every other warren process, and the process faults
// back in only what it touches from then on.
//
// A long-running process calls it once its start-up is over: a warren
// daemon touches about 19 MB of its 40 MB binary while every linked
// package initialises, and uses a small part of that afterwards. Trimmed,
// the rest no longer counts in its resident set and the kernel can reclaim
// it under memory pressure without unmapping it from a live process.
// Read-only mappings cannot hold modified pages, so nothing is lost;
// writable ones are never touched.
func Trim() error {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return err
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return err
	}
	for _, m := range parseMaps(maps) {
		if m.path == exe && !m.writable {
			if err := madvise(m.start, m.end-m.start, syscall.MADV_DONTNEED); err != nil {
				return err
			}
		}
	}
	return nil
}

// mapEntry is one line of /proc/self/maps.
type mapEntry struct {
	start, end         uintptr
	readable, writable bool
	file               bool // backed by a file (path set), not anonymous
	path               string
}

// parseMaps reads /proc/PID/maps lines such as
//
//	00400000-011ac000 r-xp 00000000 fd:01 123     /path/to/warren
//
// skipping any it cannot read.
func parseMaps(b []byte) []mapEntry {
	var out []mapEntry
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		f := bytes.Fields(line)
		if len(f) < 5 || len(f[1]) < 4 {
			continue
		}
		lo, hi, ok := bytes.Cut(f[0], []byte{'-'})
		if !ok {
			continue
		}
		m := mapEntry{start: hex(lo), end: hex(hi), readable: f[1][0] == 'r', writable: f[1][1] == 'w'}
		if m.end <= m.start {
			continue
		}
		if len(f) >= 6 {
			m.file, m.path = true, string(f[5])
		}
		out = append(out, m)
	}
	return out
}
