// Package residency manages how much of warren's own 40 MB executable is
// mapped into a warren process, at both ends of the process's life.
//
// Start: on virtual machines that shadow the guest's page tables
// (Firecracker with PVM, as on our build machines) a page fault costs
// 30-70 µs, and a warren command touches about 900 pages of its binary and
// heap before it does anything: 30 ms of a 35 ms `warren version`. This
// package's init asks the kernel with madvise(MADV_POPULATE_READ/WRITE) to
// map the executable and the Go heap's first chunk in one call each: 41 MB
// of binary (already in the page cache) in 1.2 ms against 45 ms touched
// page by page, 4 MB of heap in 0.65 ms against 24 ms. Short commands
// (the CLI, `warren exec`) and job group hosts, whose start is on the path
// of `warren run`, do it; the daemon and a standalone gateway skip it,
// since it would put the whole binary in their resident set.
// WARREN_NO_PREFAULT=1 turns it off.
// Package main imports this package for that side effect. Go runs package
// inits in dependency order and then by import path (Go 1.21+), so the
// runtime and the packages initialised before this one still fault in page
// by page: measured on `warren version`, 975 faults without, 400-560 with.
//
// Steady state: Trim lets a long-running process drop the mappings of the
// code and constant data it no longer uses: the daemon once started, a
// group host once no job has started for a while, `warren exec` once its
// program has run for as long (see Trim).
package residency
