// Package rt names the runtime hooks that lowered programs call. The hooks
// themselves are per-run closures installed by package interp under this
// import path; nothing here is linked into interpreted code directly.
package rt

// ImportPath is the path the lowered helper file imports the hooks from.
const ImportPath = "github.com/warren-mesh/warren/job/interp/rt"

// Name is the identifier the helper file uses for the hooks package.
const Name = "__wrt"

// Hook names, as the helper file calls them.
const (
	MainDone  = "MainDone"  // func(): main returned
	GoPanic   = "GoPanic"   // func(v any): a goroutine panicked with v
	Recovered = "Recovered" // func(v any) any: a panic was recovered by the program; returns v as the program should see it
	Unwrap    = "Unwrap"    // func(err error) (error, []error): one step down a native error chain
)
