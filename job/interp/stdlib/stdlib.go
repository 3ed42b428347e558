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

import "reflect"

//go:generate go run ./gen

// Symbols maps "import/path/name" to the exported symbols of that package.
var Symbols = map[string]map[string]reflect.Value{}

// MapTypes lists, for functions taking an interface{}, the interfaces an
// interpreted value should be wrapped as (fmt.Stringer for fmt.Println...).
var MapTypes = map[reflect.Value][]reflect.Type{}

func init() {
	Symbols["."] = map[string]reflect.Value{"MapTypes": reflect.ValueOf(MapTypes)}
}
