// Package servicesyms holds the symbol table of warren's service library
// (github.com/warren-mesh/warren/service) for interpreted programs, generated
// by Yaegi's extractor: with it, `import "github.com/warren-mesh/warren/service"`
// works in interpreted code. package interp loads it into every interpreter.
//
// Regenerate after the service API changes: go generate ./job/interp/servicesyms
package servicesyms

import "reflect"

//go:generate go run ../stdlib/gen -pkg github.com/warren-mesh/warren/service -dest servicesyms -o .

// Symbols maps "import/path/name" to the exported symbols of that package.
var Symbols = map[string]map[string]reflect.Value{}
