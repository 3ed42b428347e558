package residency

import (
	"bytes"
	"os"
)

// selfMaps returns this process's executable (as /proc/self/exe names it,
// which is how its mappings name it too) and its mappings.
func selfMaps() (exe string, maps []mapEntry, err error) {
	if exe, err = os.Readlink("/proc/self/exe"); err != nil {
		return "", nil, err
	}
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return "", nil, err
	}
	return exe, parseMaps(b), nil
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
			// The path is the rest of the line: it may hold spaces, and
			// " (deleted)" once the binary is replaced on disk, as
			// /proc/self/exe then says too.
			m.file, m.path = true, string(bytes.TrimSpace(line[bytes.Index(line, f[5]):]))
		}
		out = append(out, m)
	}
	return out
}

// hex parses a lower-case hexadecimal address; 0 for anything else.
func hex(b []byte) uintptr {
	var v uintptr
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uintptr(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uintptr(c-'a'+10)
		default:
			return 0
		}
	}
	return v
}
