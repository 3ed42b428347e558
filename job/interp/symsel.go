package interp

import (
	"go/parser"
	"go/token"
	"path"
	"reflect"
	"strconv"

	"github.com/warren-mesh/warren/job/interp/lower"
)

// alwaysLinked are the packages every interpreter gets whatever the
// program imports: Yaegi virtualises the standard streams and the
// environment (fixStdlib) only in the Use call that holds "fmt/fmt", and
// that call also compiles its generic cmp, maps and slices sources, which
// import cmp.
var alwaysLinked = []string{"fmt", "cmp"}

// importSet lists the import paths of the lowered program (the user's
// files and the lowering's helpers), plus alwaysLinked. Files that do not
// parse are skipped: the compile step reports them with their position.
func importSet(low *lower.Result) map[string]bool {
	set := make(map[string]bool, 16)
	for _, p := range alwaysLinked {
		set[p] = true
	}
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
