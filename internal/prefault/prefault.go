// Package prefault maps warren's own executable into memory in one system
// call when a short-lived command starts, instead of letting the kernel
// fault it in page by page as init functions and commands touch it.
//
// Why: on virtual machines that shadow the guest's page tables (Firecracker
// with PVM, as on our build machines) a page fault costs 30-70 µs, and a
// warren command touches about 900 pages of its 40 MB binary before it does
// anything: 30 ms of a 35 ms `warren version`. madvise(MADV_POPULATE_READ)
// maps the whole file-backed image (already in the page cache) in about
// 1 ms. Long-running processes (daemon, group hosts, a standalone gateway)
// skip it: populating would add the whole binary to their resident set,
// and their start-up is paid once.
//
// Package main imports it for its side effect. Go runs package inits in
// dependency order and then by import path (Go 1.21+), so the runtime and
// the packages initialised before this one still fault in page by page;
// measured on `warren version`: 975 faults without, 400-560 with.
package prefault

import (
	"bytes"
	"os"
	"syscall"
)

// MADV_POPULATE_READ and _WRITE (Linux 5.14); older kernels answer EINVAL
// and nothing changes.
const (
	madvPopulateRead  = 22
	madvPopulateWrite = 23
)

// longRunning are the commands whose processes stay up: they keep their
// resident set small instead.
var longRunning = map[string]bool{"daemon": true, "__group": true, "gateway": true}

func init() {
	if os.Getenv("WARREN_NO_PREFAULT") != "" || longRunning[command(os.Args[1:])] {
		return
	}
	if os.Getenv("WARREN_PREFAULT_DEBUG") != "" {
		b, _ := os.ReadFile("/proc/self/maps")
		os.Stderr.Write(b)
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
// process is about to touch: every mapping of the executable (read for
// code and read-only data, write for its initialised data, which is
// copy-on-write), and the small anonymous read-write mappings the runtime
// has made by now, chiefly the first chunk of the Go heap (4 MB) that the
// init functions and the command allocate into. Large anonymous mappings
// (the zeroed-data segment, runtime reservations) are left to fault in as
// used. Errors are ignored: this only ever saves time.
func populate() {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return
	}
	for _, line := range bytes.Split(maps, []byte{'\n'}) {
		// 00400000-011ac000 r-xp 00000000 fd:01 123     /path/to/warren
		f := bytes.Fields(line)
		if len(f) < 5 || len(f[1]) < 4 {
			continue
		}
		lo, hi, ok := bytes.Cut(f[0], []byte{'-'})
		if !ok {
			continue
		}
		start, end := hex(lo), hex(hi)
		if end <= start {
			continue
		}
		readable, writable := f[1][0] == 'r', f[1][1] == 'w'
		file := len(f) >= 6
		switch {
		case file && string(f[5]) == exe && writable:
			madvise(start, end-start, madvPopulateWrite)
		case file && string(f[5]) == exe && readable:
			madvise(start, end-start, madvPopulateRead)
		case !file && readable && writable && end-start <= maxAnon:
			madvise(start, end-start, madvPopulateWrite)
		}
	}
}

// maxAnon is the largest anonymous mapping populated: the heap's first
// chunk is 4 MB; bigger ones are mostly never touched.
const maxAnon = 4 << 20

func madvise(addr, n, advice uintptr) {
	syscall.Syscall(syscall.SYS_MADVISE, addr, n, advice)
}

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
