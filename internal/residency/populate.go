package residency

import (
	"os"
	"syscall"
)

// MADV_POPULATE_READ and _WRITE (Linux 5.14); older kernels answer EINVAL
// and nothing changes.
const (
	madvPopulateRead  = 22
	madvPopulateWrite = 23
)

// longRunning are the commands whose processes stay up and whose start is
// paid once: they keep their resident set small instead. Group hosts
// (__group) are long-running too, but their start is on the path of
// `warren run` into a new group: they populate and trim once idle.
var longRunning = map[string]bool{"daemon": true, "gateway": true}

func init() {
	if os.Getenv("WARREN_NO_PREFAULT") != "" || longRunning[command(os.Args[1:])] {
		return
	}
	populate()
}

// command returns the first argument that is not a flag or a flag's value.
// Only the global flags that take a value need care here.
func command(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--workdir" || a == "--log-level" || a == "--log-format":
			i++
		case len(a) > 0 && a[0] == '-':
		default:
			return a
		}
	}
	return ""
}

// populate asks the kernel to map, in one call per mapping, the pages the
// process is about to touch: every mapping of the executable (for reading),
// and the small anonymous read-write mappings the runtime
// has made by now, chiefly the first chunk of the Go heap (4 MB) that the
// init functions and the command allocate into. Large anonymous mappings
// (the zeroed-data segment, runtime reservations) are left to fault in as
// used. Errors are ignored: this only ever saves time.
func populate() {
	exe, maps, err := selfMaps()
	if err != nil {
		return
	}
	for _, m := range maps {
		switch {
		case m.path == exe && m.readable:
			// Read, even for the initialised data: populating it for
			// writing copies pages the runtime has already mapped, and
			// each copy flushes the other CPUs' TLBs (an IPI apiece).
			madvise(m.start, m.end-m.start, madvPopulateRead)
		case !m.file && m.readable && m.writable && m.end-m.start <= maxAnon:
			madvise(m.start, m.end-m.start, madvPopulateWrite)
		}
	}
}

// maxAnon is the largest anonymous mapping populated: the heap's first
// chunk is 4 MB; bigger ones are mostly never touched.
const maxAnon = 4 << 20

func madvise(addr, n, advice uintptr) error {
	if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, addr, n, advice); e != 0 {
		return e
	}
	return nil
}
