// Package stdlib holds the standard library symbol tables that interpreted
// programs can import, generated from the Go release that builds warren by
// Yaegi's extract tool (github.com/traefik/yaegi/extract, v0.16.1), run by
// ./gen. Regenerate with `go generate ./job/interp/stdlib` (or `make
// generate`); TestTablesUpToDate fails when the committed tables differ from
// what generation produces.
//
// The default build (tag full, or no tag) links every package listed in
// gen/packages.go; build tag lite links only the packages a device program
// typically needs (gen.Lite), which makes the binary much smaller.
// The syscall tables are generated for linux on the common architectures and
// are in full builds only.
package stdlib

import (
	"reflect"
	"sync"
)

//go:generate go run ./gen

var (
	// loaders fill symbols, one per generated file; their init functions
	// only register them, so a warren process that never interprets (the
	// CLI, the daemon) never pays for the tables.
	loaders  []func()
	symbols  = map[string]map[string]reflect.Value{}
	mapTypes = map[reflect.Value][]reflect.Type{}
	load     sync.Once
)

// Symbols returns the tables: "import/path/name" -> the exported symbols of
// that package. The first call builds them (about 4 ms); the result is
// shared and must not be modified.
func Symbols() map[string]map[string]reflect.Value {
	load.Do(func() {
		for _, l := range loaders {
			l()
		}
		symbols["."] = map[string]reflect.Value{"MapTypes": reflect.ValueOf(mapTypes)}
	})
	return symbols
}

// MapTypes lists, for functions taking an interface{}, the interfaces an
// interpreted value should be wrapped as (fmt.Stringer for fmt.Println...).
func MapTypes() map[reflect.Value][]reflect.Type {
	Symbols()
	return mapTypes
}
