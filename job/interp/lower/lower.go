// Package lower rewrites a Go main package, before Yaegi interprets it, into
// code Yaegi runs the way the Go compiler would. It works by text edits on
// the user's source that never add or remove a line, so every position the
// interpreter reports is still the user's own; helpers it needs go to one
// extra file (Result.Helper).
//
// What it rewrites (see the README section "Interpreted Go"):
//   - func main → __w_main, called by a helper main that tells the runner
//     when main returned (so the runner can stop the program's goroutines);
//   - every go statement gets a recover that reports the panic to the runner
//     instead of crashing the host process;
//   - recover() calls tell the runner a panic was handled;
//   - the type-directed rewrites in types.go (range over int and func, loop
//     variables, min/max/clear, generic standard-library calls, errors.As).
//
// Lowering is pure: it needs no toolchain and touches no files.
package lower

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/warren-mesh/warren/job/interp/rt"
)

// File is one source file of the program.
type File struct {
	Name string // path, as positions should name it
	Src  []byte
}

// Result is the lowered program.
type Result struct {
	Files  []File // the user's files, rewritten line for line
	Helper []byte // package main source with the helpers the rewrites call
	// Unsupported lists constructs left as they were because the lowering
	// cannot express them; Yaegi may reject or mis-run them.
	Unsupported []string
}

// edit replaces src[start:end] with text.
type edit struct {
	start, end int
	text       string
}

// file is the working state for one source file.
type file struct {
	name  string
	src   []byte
	tf    *token.File
	ast   *ast.File
	edits []edit
}

func (f *file) off(p token.Pos) int { return f.tf.Offset(p) }

// replace registers an edit of the source of [from, to).
func (f *file) replace(from, to token.Pos, text string) {
	f.edits = append(f.edits, edit{f.off(from), f.off(to), text})
}

// insert registers an insertion at p.
func (f *file) insert(p token.Pos, text string) { f.replace(p, p, text) }

// text returns the source of [from, to) with the edits inside it applied,
// and removes those edits (they now live in the caller's replacement).
func (f *file) text(from, to token.Pos) string {
	s, e := f.off(from), f.off(to)
	var inner []edit
	rest := f.edits[:0] // filtered in place: this runs for every node the lowering copies
	for _, ed := range f.edits {
		if ed.start >= s && ed.end <= e {
			inner = append(inner, ed)
		} else {
			rest = append(rest, ed)
		}
	}
	f.edits = rest
	if len(inner) == 0 {
		return string(f.src[s:e])
	}
	return apply(f.src[s:e], inner, s)
}

func (f *file) node(n ast.Node) string { return f.text(n.Pos(), n.End()) }

func apply(src []byte, edits []edit, base int) string {
	var b strings.Builder
	b.Grow(appliedLen(src, edits))
	applyTo(&b, src, edits, base)
	return b.String()
}

// applyBytes is apply(src, edits, 0) as a byte slice.
func applyBytes(src []byte, edits []edit) []byte {
	b := bytes.NewBuffer(make([]byte, 0, appliedLen(src, edits)))
	applyTo(b, src, edits, 0)
	return b.Bytes()
}

func appliedLen(src []byte, edits []edit) int {
	n := len(src)
	for _, e := range edits {
		n += len(e.text)
	}
	return n
}

func applyTo(b interface {
	Write([]byte) (int, error)
	WriteString(string) (int, error)
}, src []byte, edits []edit, base int) {
	sort.SliceStable(edits, func(i, j int) bool {
		if edits[i].start != edits[j].start {
			return edits[i].start < edits[j].start
		}
		// An insertion goes before a replacement starting at the same place.
		return edits[i].start == edits[i].end && edits[j].start != edits[j].end
	})
	at := 0
	for _, e := range edits {
		s, en := e.start-base, e.end-base
		if s < at { // overlapping edit: keep the earlier one
			continue
		}
		b.Write(src[at:s])
		b.WriteString(e.text)
		at = en
	}
	b.Write(src[at:])
}

// Lowerer lowers programs. It type-checks them against the symbol tables
// the interpreter links, and caches the packages it builds from them
// between calls. It is safe for concurrent use (calls are serialised).
type Lowerer struct {
	mu     sync.Mutex
	tables map[string]map[string]reflect.Value
	imp    *importer
	info   *types.Info // emptied maps of the last call, for the next
	calls  int
}

// contextCalls is how many calls share a types.Context.
const contextCalls = 64

// NewLowerer returns a Lowerer for programs that can import the packages of
// tables (keys "import/path/name", as Yaegi's extract tool writes them).
func NewLowerer(tables ...map[string]map[string]reflect.Value) *Lowerer {
	all := map[string]map[string]reflect.Value{}
	for _, t := range tables {
		for k, v := range t {
			all[k] = v
		}
	}
	return &Lowerer{tables: all}
}

// Lower rewrites the files of one main package.
func (l *Lowerer) Lower(files []File) (*Result, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.imp == nil {
		l.imp = newImporter(l.tables)
	}
	if l.calls%contextCalls == 0 {
		// The context keeps the instances of generic functions and types
		// (slices.Sort[[]int]) for the next calls, and with them the
		// types of the programs they were instantiated with: a new one
		// now and then bounds that.
		l.imp.ctxt = types.NewContext()
	}
	l.calls++
	fset := token.NewFileSet()
	var fs []*file
	var asts []*ast.File
	for _, in := range files {
		// Without comments: the lowering edits the source text, which
		// keeps them; the checker reads only //go:build lines, which the
		// parser reads in any mode.
		af, err := parser.ParseFile(fset, in.Name, in.Src, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		if af.Name.Name != "main" {
			return nil, fmt.Errorf("%s: package %s: want package main", fset.Position(af.Name.Pos()), af.Name.Name)
		}
		f := &file{name: in.Name, src: in.Src, tf: fset.File(af.Pos()), ast: af}
		fs = append(fs, f)
		asts = append(asts, af)
	}
	lw := &lowering{fset: fset, files: fs, helpers: newHelpers(), im: l.imp, insts: map[string]string{}}
	info := l.info
	l.info = nil
	lw.typecheck(asts, info)
	defer func() { l.info = keepInfo(lw.info) }()
	if err := lw.unusedErrors(); err != nil {
		return nil, err
	}
	lw.checkTemplateBodies()
	lw.noteNames()
	for _, f := range fs {
		lw.file(f)
	}
	res := &Result{Unsupported: lw.unsupported}
	for _, f := range fs {
		res.Files = append(res.Files, File{Name: f.name, Src: applyBytes(f.src, f.edits)})
	}
	res.Helper = lw.helpers.source()
	return res, nil
}

// lowering is the state of one Lower call.
type lowering struct {
	fset        *token.FileSet
	files       []*file
	helpers     *helpers
	info        *types.Info
	typeErrs    []error
	im          *importer
	insts       map[string]string // template instance key -> helper name
	unsupported []string
	n           int // counter for fresh names
	// instDeclDirect, when set (by tests), replaces the planned instDecl.
	instDeclDirect func(tp *template, d ast.Decl, obj types.Object, name string, sub map[string]string) (string, bool)
}

func (lw *lowering) fresh(prefix string) string {
	lw.n++
	return "__w" + prefix + strconv.Itoa(lw.n)
}

func (lw *lowering) unsupportedAt(p token.Pos, what string) {
	lw.unsupported = append(lw.unsupported, fmt.Sprintf("%s: %s", lw.fset.Position(p), what))
}

// goGuard is the statement every goroutine starts with.
const goGuard = "defer func() { __w_goPanic(recover()) }(); "

// file lowers one file: children before parents, so that an outer rewrite
// that moves code carries the inner rewrites along (file.text).
func (lw *lowering) file(f *file) {
	for _, d := range f.ast.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == "main" && fd.Type.TypeParams == nil {
			f.replace(fd.Name.Pos(), fd.Name.End(), "__w_main")
			lw.helpers.hasMain = true
		}
	}
	var stack []ast.Node
	ast.Inspect(f.ast, func(n ast.Node) bool {
		if n == nil {
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			lw.post(f, top, stack)
			return true
		}
		stack = append(stack, n)
		return true
	})
}

// post rewrites node n once its children are rewritten; stack holds its
// ancestors.
func (lw *lowering) post(f *file, n ast.Node, stack []ast.Node) {
	switch n := n.(type) {
	case *ast.Ident:
		lw.instance(f, n, stack)
	case *ast.GoStmt:
		lw.goStmt(f, n)
	case *ast.DeferStmt:
		lw.deferStmt(f, n, inLoop(stack))
	case *ast.GenDecl:
		if n.Tok == token.CONST {
			lw.constDecl(f, n)
		}
	case *ast.AssignStmt:
		lw.multiAssignStmt(f, n)
	case *ast.ValueSpec:
		lw.multiAssignSpec(f, n)
	case *ast.CallExpr:
		if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "recover" && len(n.Args) == 0 && lw.isBuiltin(id) {
			f.insert(n.Pos(), "__w_recovered(")
			f.insert(n.End(), ")")
			return
		}
		lw.call(f, n)
	case *ast.SelectorExpr:
		lw.embeddedIface(f, n)
		lw.methodValue(f, n, stack)
	case *ast.RangeStmt:
		lw.rangeStmt(f, n, stack)
	case *ast.ForStmt:
		lw.forStmt(f, n)
	}
}

// goStmt makes a panic in the new goroutine end the program, not the host.
func (lw *lowering) goStmt(f *file, g *ast.GoStmt) {
	if fl, ok := g.Call.Fun.(*ast.FuncLit); ok {
		if fl.Type.Results == nil || len(fl.Type.Results.List) == 0 {
			// The body runs in a nested literal so that Yaegi reports the
			// position of a panic in it before the guard recovers it.
			f.insert(fl.Body.Lbrace+1, goGuard+"func() {")
			f.insert(fl.Body.Rbrace, "}()")
		} else {
			f.insert(fl.Body.Lbrace+1, goGuard)
		}
		return
	}
	if id, ok := g.Call.Fun.(*ast.Ident); ok && lw.isBuiltin(id) {
		lw.unsupportedAt(g.Pos(), "go statement calling builtin "+id.Name+" is not guarded against panics")
		return
	}
	text := lw.evalEarly(f, g.Call, func(call string) string {
		return "go func() { " + goGuard + call + " }()"
	})
	f.replace(g.Pos(), g.End(), text)
}

// evalEarly rewrites a go or defer call so that the function value and the
// arguments are evaluated where the statement is, as Go does, into
// temporaries the deferred or concurrent call then uses:
// { a0, a1 := a, b; <stmt(call)> }. A method call keeps its receiver in a
// temporary instead of taking a method value (Yaegi mishandles method
// values of native types); a package function or a declared function is
// called by name.
func (lw *lowering) evalEarly(f *file, c *ast.CallExpr, stmt func(call string) string) string {
	var names, vals []string
	fun := ""
	switch fn := ast.Unparen(c.Fun).(type) {
	case *ast.FuncLit:
		// Creating the closure later is the same closure; a closure held
		// in a variable and deferred hangs Yaegi when the function
		// returns (traefik/yaegi#1697), so the literal stays in place.
		fun = f.node(c.Fun)
	case *ast.Ident:
		if _, isFunc := lw.info.Uses[fn].(*types.Func); isFunc || lw.isBuiltin(fn) {
			fun = fn.Name
		}
	case *ast.SelectorExpr:
		if id, ok := fn.X.(*ast.Ident); ok {
			if _, isPkg := lw.info.Uses[id].(*types.PkgName); isPkg {
				fun = f.node(fn)
			}
		}
		if fun == "" {
			if sel := lw.info.Selections[fn]; sel != nil && sel.Kind() == types.MethodVal {
				r := lw.fresh("gr")
				x := f.node(fn.X)
				if lw.takesAddr(sel) {
					// Go takes &x for a pointer receiver: the call must
					// act on the variable, not on a copy of it
					x = "&" + x
				}
				names, vals = append(names, r), append(vals, x)
				fun = r + "." + fn.Sel.Name
			}
		}
	}
	if fun == "" {
		fun = lw.fresh("gf")
		names, vals = append(names, fun), append(vals, f.node(c.Fun))
	}
	var args []string
	for _, a := range c.Args {
		if tv, ok := lw.info.Types[a]; ok && (tv.Value != nil || tv.IsNil()) {
			// constants and nil need no early evaluation, and nil
			// cannot initialise a temporary
			args = append(args, f.node(a))
			continue
		}
		nm := lw.fresh("ga")
		names, vals = append(names, nm), append(vals, f.node(a))
		args = append(args, nm)
	}
	ell := ""
	if c.Ellipsis.IsValid() {
		ell = "..."
	}
	call := fun + "(" + strings.Join(args, ", ") + ell + ")"
	if len(names) == 0 {
		return "{ " + stmt(call) + " }"
	}
	// each value in parentheses: see multiAssign
	return fmt.Sprintf("{ %s := (%s); %s }", strings.Join(names, ", "), strings.Join(vals, "), ("), stmt(call))
}

// takesAddr reports whether calling the method of sel implicitly takes
// the address of its operand: a pointer receiver, reached from a value
// without going through a pointer.
func (lw *lowering) takesAddr(sel *types.Selection) bool {
	fn, ok := sel.Obj().(*types.Func)
	return ok && !sel.Indirect() && ptrRecv(fn)
}

// ptrRecv reports whether fn is a method with a pointer receiver.
func ptrRecv(fn *types.Func) bool {
	recv := fn.Type().(*types.Signature).Recv()
	if recv == nil {
		return false
	}
	_, ptr := types.Unalias(recv.Type()).(*types.Pointer)
	return ptr
}

// deferStmt evaluates a deferred call's arguments at the defer statement
// (Yaegi reads them when the call runs).
func (lw *lowering) deferStmt(f *file, d *ast.DeferStmt, inLoop bool) {
	if _, ok := d.Call.Fun.(*ast.FuncLit); ok && len(d.Call.Args) == 0 {
		// A deferred closure in a loop sees the last iteration's variables
		// under Yaegi; binding it to a temporary first makes Yaegi fail
		// outright, so it is left as it is (see EXCEPTIONS).
		_ = inLoop
		return
	}
	needs := false
	for _, a := range d.Call.Args {
		if tv, ok := lw.info.Types[a]; !ok || tv.Value == nil {
			needs = true
		}
	}
	if !needs {
		return
	}
	if id, ok := d.Call.Fun.(*ast.Ident); ok && lw.isBuiltin(id) {
		return
	}
	f.replace(d.Pos(), d.End(), lw.evalEarly(f, d.Call, func(call string) string { return "defer " + call }))
}

// helpers collects the helper declarations the rewrites need.
type helpers struct {
	hasMain bool
	imports map[string]string // path -> local name
	decls   []string
	have    map[string]bool
	taken   map[string]string // names the program uses: import path, or "" for its own declarations
}

func newHelpers() *helpers {
	return &helpers{imports: map[string]string{}, have: map[string]bool{}, taken: map[string]string{}}
}

// add adds a declaration once, by key.
func (h *helpers) add(key, decl string) {
	if h.have[key] {
		return
	}
	h.have[key] = true
	h.decls = append(h.decls, decl)
}

// pkg returns the local name the helper file uses for an import path.
func (h *helpers) pkg(path string) string {
	if n, ok := h.imports[path]; ok {
		return n
	}
	// The package's own name when the program does not use it for
	// something else (Yaegi knows a package by one name only).
	n := path[strings.LastIndexByte(path, '/')+1:]
	if p, taken := h.taken[n]; (taken && p != path) || n == "main" || strings.Contains(n, ".") {
		n = fmt.Sprintf("__wp%d", len(h.imports))
	}
	h.imports[path] = n
	return n
}

func (h *helpers) source() []byte {
	var b bytes.Buffer
	n := 1024 // the fixed part, with some imports
	for _, d := range h.decls {
		n += len(d) + 2
	}
	b.Grow(n)
	b.WriteString("package main\n\nimport (\n")
	fmt.Fprintf(&b, "\t%s %q\n", rt.Name, rt.ImportPath)
	paths := make([]string, 0, len(h.imports))
	for p := range h.imports {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		fmt.Fprintf(&b, "\t%s %q\n", h.imports[p], p)
	}
	b.WriteString(")\n\n")
	if h.hasMain {
		fmt.Fprintf(&b, "func main() { __w_main(); %s.%s() }\n\n", rt.Name, rt.MainDone)
	}
	fmt.Fprintf(&b, "func __w_goPanic(r any) {\n\tif r != nil {\n\t\t%s.%s(r)\n\t}\n}\n\n", rt.Name, rt.GoPanic)
	fmt.Fprintf(&b, "func __w_recovered(r any) any {\n\tif r != nil {\n\t\treturn %s.%s(r)\n\t}\n\treturn r\n}\n\n", rt.Name, rt.Recovered)
	for _, d := range h.decls {
		b.WriteString(d)
		b.WriteString("\n\n")
	}
	return b.Bytes()
}

// inLoop says whether the innermost function around stack's top is inside
// a for or range statement.
func inLoop(stack []ast.Node) bool {
	for i := len(stack) - 1; i >= 0; i-- {
		switch stack[i].(type) {
		case *ast.ForStmt, *ast.RangeStmt:
			return true
		case *ast.FuncLit, *ast.FuncDecl:
			return false
		}
	}
	return false
}
