// Package interp runs a Go program (one file, or the directory of a main
// package) for a warren job, in one of three modes:
//
//   - Interpreted: in-process with Yaegi (github.com/traefik/yaegi v0.16.1),
//     one interpreter per Run. The source first goes through package lower,
//     which rewrites the Go 1.22–1.26 constructs Yaegi gets wrong (range over
//     int and func, per-iteration loop variables, min/max/clear, generic
//     slices/maps/cmp calls, errors.As on script types, ...) into code it runs
//     correctly, keeping every line where it was so positions stay the user's.
//   - Compiled: built with the Go toolchain (cached by content hash) and run
//     as a child process.
//   - Auto (the default): interpreted, falling back to compiled when the
//     interpreter rejects the program before running any of it.
//
// Each interpreted program sees its own os.Args, environment, working
// directory and standard streams. os.Exit(n) ends that program only (Result
// gives n); a panic, in main or in any goroutine the program started, and a
// compile error become an *Error naming the user's file and line. Nothing a
// program does can crash the host process: every evaluation runs under
// recover.
//
// Concurrency: Run may be called from many goroutines at once; runs share no
// mutable state. The interpreter's goroutines are stopped when Run returns
// (Yaegi checks for cancellation between instructions); a goroutine blocked
// in a native call (an Accept, a Read) ends when that call returns.
//
// The standard library symbol tables interpreted code can import live in
// job/interp/stdlib, generated for the Go release that builds warren; build
// tag lite links a reduced set. job/interp/servicesyms makes warren's
// service library importable too. WithSymbols adds more tables; give the
// lowering the same tables with WithLowerer(lower.NewLowerer(...)).
// Each interpreter links only the packages its program imports (a whole
// table would cost about 2 MB and 2 ms per job), and Yaegi's generic
// cmp/maps/slices sources only for a program that imports one of those;
// the per-job streams and environment Yaegi sets up for its standard
// library are then set by this package instead (symsel.go, jobos.go).
//
// Compiled programs run through package proc: their own process group,
// stopped as a group when ctx ends, killed if the host process dies.
//
// internal/interprun is a minimal command around Run, used by the corpus
// test to run programs in a child process built without -race.
package interp
