package interp

import (
	"go/parser"
	"go/token"
	"path"
	"reflect"
	"strconv"

	"github.com/warren-mesh/warren/job/interp/lower"
)

// genericLinked are the packages an interpreter needs when Yaegi compiles
// its generic sources (see fmtKey): fmt, whose "fmt/fmt" key triggers it,
// and cmp, which the sources import.
var genericLinked = []string{"fmt", "cmp"}

// importSet lists the import paths of the lowered program (the user's
// files and the lowering's helpers). Files that do not
// parse are skipped: the compile step reports them with their position.
func importSet(low *lower.Result) map[string]bool {
	set := make(map[string]bool, 16)
	fset := token.NewFileSet()
	add := func(name string, src []byte) {
		f, err := parser.ParseFile(fset, name, src, parser.ImportsOnly|parser.SkipObjectResolution)
		if f == nil {
			return
		}
		_ = err // a partial file still lists the imports parsed so far
		for _, is := range f.Imports {
			if p, err := strconv.Unquote(is.Path.Value); err == nil {
				set[p] = true
			}
		}
	}
	for _, f := range low.Files {
		add(f.Name, f.Src)
	}
	add(helperFile, low.Helper)
	return set
}

// selectSymbols returns the part of table (keys "import/path/name") that
// the packages in imports need, and the interface wrappers (key "."). The
// inner maps are shared, not copied: Yaegi's Use copies their entries into
// the interpreter's own maps and never writes to them. Loading a whole
// table instead would copy every package's symbols into every
// interpreter, about 2 MB each for the full standard library.
func selectSymbols(table map[string]map[string]reflect.Value, imports map[string]bool) map[string]map[string]reflect.Value {
	out := make(map[string]map[string]reflect.Value, len(imports)+1)
	for k, v := range table {
		if k == "." || imports[path.Dir(k)] {
			out[k] = v
		}
	}
	return out
}

// fmtKey names package fmt for Yaegi's Use without the key "fmt/fmt": Use
// treats a table holding exactly "fmt/fmt" as the standard library and then
// compiles Yaegi's generic cmp, maps and slices sources into the
// interpreter (70% of the start-up of a small program, and memory for as
// long as it runs). Use splits keys with path.Dir and path.Base, so this
// key still declares package fmt at import path "fmt". What that special
// case also does (fixStdlib: per-interpreter streams for fmt, os and log,
// a virtual environment for os) is done by run.overrides for every
// program, whichever key loaded fmt.
const fmtKey = "fmt/./fmt"

// needsGenericSources reports whether the program imports a package whose
// generic functions Yaegi implements with its own sources.
func needsGenericSources(imports map[string]bool) bool {
	return imports["cmp"] || imports["maps"] || imports["slices"]
}

// stdlibFor selects the standard library tables for a program: with
// Yaegi's generic sources (the "fmt/fmt" key, and the packages they
// import) only when the program imports one of their packages.
func stdlibFor(table map[string]map[string]reflect.Value, imports map[string]bool) map[string]map[string]reflect.Value {
	if needsGenericSources(imports) {
		with := make(map[string]bool, len(imports)+len(genericLinked))
		for p := range imports {
			with[p] = true
		}
		for _, p := range genericLinked {
			with[p] = true
		}
		return selectSymbols(table, with)
	}
	out := selectSymbols(table, imports)
	if f, ok := out["fmt/fmt"]; ok {
		delete(out, "fmt/fmt")
		out[fmtKey] = f
	}
	return out
}
