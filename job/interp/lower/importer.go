package lower

import (
	"embed"
	"fmt"
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"go/types"
	"path"
	"reflect"
	"strings"
	"sync"
)

//go:embed templates/*.go.txt
var templateFS embed.FS

// templateFiles maps an import path to its template file.
var templateFiles = map[string]string{
	"slices":      "templates/slices.go.txt",
	"maps":        "templates/maps.go.txt",
	"cmp":         "templates/cmp.go.txt",
	"iter":        "templates/iter.go.txt",
	"sync":        "templates/sync.go.txt",
	"unique":      "templates/unique.go.txt",
	"sync/atomic": "templates/atomic.go.txt",
}

// The templates are parsed once per process, for all Lowerers: their
// syntax trees are only read (by the checker and the lowering), and
// templateFset, which holds their positions, is the importers' FileSet.
var (
	templateFset   = token.NewFileSet()
	templateMu     sync.Mutex
	templateParsed = map[string]*parsedTemplate{}
)

type parsedTemplate struct {
	src  []byte
	file *ast.File
	err  error
}

// parseTemplate returns the source and syntax of the template of p.
func parseTemplate(p string) ([]byte, *ast.File, error) {
	templateMu.Lock()
	defer templateMu.Unlock()
	t := templateParsed[p]
	if t == nil {
		t = &parsedTemplate{}
		t.src, t.err = templateFS.ReadFile(templateFiles[p])
		if t.err == nil {
			t.file, t.err = parser.ParseFile(templateFset, templateFiles[p], t.src, parser.SkipObjectResolution)
		}
		templateParsed[p] = t
	}
	return t.src, t.file, t.err
}

// importer builds go/types packages from the symbol tables the interpreter
// links (so type checking sees exactly what interpreted code can use, and
// needs no Go toolchain or sources on the node), completed with the
// generic declarations of the templates, which reflection cannot show.
// It is not safe for concurrent use; Lowerer serialises it.
type importer struct {
	syms   map[string]map[string]reflect.Value // import path -> symbols
	names  map[string]string                   // import path -> package name
	pkgs   map[string]*types.Package
	done   map[string]bool
	named  map[reflect.Type]*types.Named
	fset   *token.FileSet       // templateFset
	tmpl   map[string]*template // import path -> checked template
	errTyp types.Type
	ctxt   *types.Context // for the programs' checks (see Lower)
	// eagerBodies checks all template bodies at import (tests compare
	// the lazy checks with it).
	eagerBodies bool
}

// template is a template file. Its declarations are checked into the
// package the program sees without their function bodies (the program only
// needs the signatures); the bodies are checked lazily, by checkBodies,
// when a declaration is instantiated.
type template struct {
	path string
	src  []byte
	file *ast.File
	pkg  *types.Package // the package the program sees
	// info holds Uses and Defs of the declarations checked so far with
	// their bodies (checked[decl]), each into a package of its own whose
	// scope is in scopes.
	info    *types.Info
	checked map[ast.Decl]bool
	scopes  []*types.Scope
	byName  map[string][]ast.Decl // package-level name -> its declaration, and a type's methods
	imports []ast.Decl
	roots   map[string]*instRoot  // generic declaration name -> what instantiating it copies
	plans   map[planKey]*instPlan // instDecl's work, by declaration and object name
}

// pkgLevel says whether o is declared at the template package's level: in
// the package the program sees or in one its bodies were checked in.
func (tp *template) pkgLevel(o types.Object) bool {
	p := o.Parent()
	if p == tp.pkg.Scope() {
		return true
	}
	for _, s := range tp.scopes {
		if p == s {
			return true
		}
	}
	return false
}

// checkBodies type-checks the declarations roots of the template with
// their bodies, into tp.info, unless that was done. The template's own
// declarations they refer to (by name, so a superset), their references in
// turn, and the methods of the types among them are checked with them, in
// a new package that also holds the package's symbols from the tables (the
// objects of tp.pkg, so that identifiers resolving to them still look
// package-level). A declaration checked this way has the same Uses and
// Defs as in a check of the whole file.
func (im *importer) checkBodies(tp *template, roots ...ast.Decl) {
	seen := map[ast.Decl]bool{}
	var add func(d ast.Decl)
	add = func(d ast.Decl) {
		if seen[d] {
			return
		}
		seen[d] = true
		ast.Inspect(d, func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok {
				for _, r := range tp.byName[id.Name] {
					add(r)
				}
			}
			return true
		})
	}
	for _, d := range roots {
		if !tp.checked[d] {
			add(d)
		}
	}
	if len(seen) == 0 {
		return
	}
	decls := append([]ast.Decl(nil), tp.imports...)
	for _, td := range tp.file.Decls { // in file order
		if seen[td] {
			decls = append(decls, td)
			tp.checked[td] = true
		}
	}
	f := *tp.file
	f.Decls = decls
	pk := types.NewPackage(tp.path, tp.pkg.Name())
	sc := pk.Scope()
	outer := tp.pkg.Scope()
	for _, name := range outer.Names() {
		if o := outer.Lookup(name); !o.Pos().IsValid() {
			sc.Insert(o)
		}
	}
	conf := types.Config{Importer: im, Error: func(error) {}}
	_ = types.NewChecker(&conf, im.fset, pk, tp.info).Files([]*ast.File{&f})
	tp.scopes = append(tp.scopes, sc)
}

func newImporter(tables map[string]map[string]reflect.Value) *importer {
	im := &importer{
		syms:  map[string]map[string]reflect.Value{},
		names: map[string]string{},
		pkgs:  map[string]*types.Package{},
		done:  map[string]bool{},
		named: map[reflect.Type]*types.Named{},
		fset:  templateFset,
		tmpl:  map[string]*template{},
	}
	for k, v := range tables {
		p, n := path.Dir(k), path.Base(k)
		if p == "." {
			continue
		}
		im.syms[p], im.names[p] = v, n
	}
	for p := range templateFiles {
		if _, ok := im.names[p]; !ok {
			im.names[p] = path.Base(p)
		}
	}
	return im
}

// pkg returns the (possibly still empty) package object for path.
func (im *importer) pkg(p string) *types.Package {
	if pk, ok := im.pkgs[p]; ok {
		return pk
	}
	n, ok := im.names[p]
	if !ok {
		n = path.Base(p)
	}
	pk := types.NewPackage(p, n)
	im.pkgs[p] = pk
	return pk
}

// Import implements types.Importer.
func (im *importer) Import(p string) (*types.Package, error) {
	if im.done[p] {
		return im.pkgs[p], nil
	}
	syms, ok := im.syms[p]
	_, hasTmpl := templateFiles[p]
	if !ok && !hasTmpl {
		return nil, fmt.Errorf("package %s is not available to interpreted programs", p)
	}
	pk := im.pkg(p)
	im.done[p] = true
	sc := pk.Scope()
	for name, v := range syms {
		if strings.HasPrefix(name, "_") || !token.IsExported(name) {
			continue
		}
		if obj := im.object(pk, name, v); obj != nil && sc.Lookup(name) == nil {
			sc.Insert(obj)
		}
	}
	if hasTmpl {
		if err := im.checkTemplate(p, pk); err != nil {
			return nil, err
		}
	}
	pk.MarkComplete()
	return pk, nil
}

// checkTemplate type-checks the template of p into p's package, without
// the function bodies (see template).
func (im *importer) checkTemplate(p string, pk *types.Package) error {
	src, f, err := parseTemplate(p)
	if err != nil {
		return err
	}
	tp := &template{
		path:    p,
		src:     src,
		file:    f,
		pkg:     pk,
		info:    &types.Info{Uses: map[*ast.Ident]types.Object{}, Defs: map[*ast.Ident]types.Object{}},
		checked: map[ast.Decl]bool{},
		byName:  map[string][]ast.Decl{},
		roots:   map[string]*instRoot{},
		plans:   map[planKey]*instPlan{},
	}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil {
				tp.byName[d.Name.Name] = append(tp.byName[d.Name.Name], d)
			} else if b := recvBase(d.Recv); b != "" {
				tp.byName[b] = append(tp.byName[b], d)
			}
		case *ast.GenDecl:
			if d.Tok == token.IMPORT {
				tp.imports = append(tp.imports, d)
				continue
			}
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.ValueSpec:
					for _, n := range s.Names {
						tp.byName[n.Name] = append(tp.byName[n.Name], d)
					}
				case *ast.TypeSpec:
					tp.byName[s.Name.Name] = append(tp.byName[s.Name.Name], d)
				}
			}
		}
	}
	conf := types.Config{Importer: im, Error: func(error) {}, IgnoreFuncBodies: true}
	var info *types.Info
	if im.eagerBodies {
		conf.IgnoreFuncBodies, info = false, tp.info
		for _, d := range f.Decls {
			tp.checked[d] = true
		}
	}
	_ = types.NewChecker(&conf, im.fset, pk, info).Files([]*ast.File{f})
	im.tmpl[p] = tp
	return nil
}

// object converts one table entry.
func (im *importer) object(pk *types.Package, name string, v reflect.Value) types.Object {
	if !v.IsValid() {
		return nil
	}
	if cv, ok := v.Interface().(constant.Value); ok && v.Kind() == reflect.Interface || ok && v.Type().PkgPath() == "go/constant" {
		return types.NewConst(token.NoPos, pk, name, untypedFor(cv), cv)
	}
	if v.Kind() == reflect.Pointer && v.IsNil() && !v.CanAddr() {
		// A type: reflect.ValueOf((*T)(nil)).
		t := im.typ(v.Type().Elem())
		if n, ok := t.(*types.Named); ok && n.Obj().Pkg() == pk && n.Obj().Name() == name {
			return n.Obj()
		}
		return types.NewTypeName(token.NoPos, pk, name, t)
	}
	if v.CanAddr() {
		return types.NewVar(token.NoPos, pk, name, im.typ(v.Type()))
	}
	if v.Kind() == reflect.Func {
		sig, _ := im.typ(v.Type()).(*types.Signature)
		if sig == nil {
			return nil
		}
		return types.NewFunc(token.NoPos, pk, name, sig)
	}
	// A typed constant.
	t := im.typ(v.Type())
	var cv constant.Value
	switch v.Kind() {
	case reflect.Bool:
		cv = constant.MakeBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		cv = constant.MakeInt64(v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		cv = constant.MakeUint64(v.Uint())
	case reflect.Float32, reflect.Float64:
		cv = constant.MakeFloat64(v.Float())
	case reflect.String:
		cv = constant.MakeString(v.String())
	default:
		return types.NewVar(token.NoPos, pk, name, t)
	}
	return types.NewConst(token.NoPos, pk, name, t, cv)
}

func untypedFor(cv constant.Value) types.Type {
	switch cv.Kind() {
	case constant.Bool:
		return types.Typ[types.UntypedBool]
	case constant.String:
		return types.Typ[types.UntypedString]
	case constant.Int:
		return types.Typ[types.UntypedInt]
	case constant.Float:
		return types.Typ[types.UntypedFloat]
	case constant.Complex:
		return types.Typ[types.UntypedComplex]
	}
	return types.Typ[types.Invalid]
}

var basicKinds = map[reflect.Kind]types.BasicKind{
	reflect.Bool: types.Bool, reflect.Int: types.Int, reflect.Int8: types.Int8, reflect.Int16: types.Int16,
	reflect.Int32: types.Int32, reflect.Int64: types.Int64, reflect.Uint: types.Uint, reflect.Uint8: types.Uint8,
	reflect.Uint16: types.Uint16, reflect.Uint32: types.Uint32, reflect.Uint64: types.Uint64,
	reflect.Uintptr: types.Uintptr, reflect.Float32: types.Float32, reflect.Float64: types.Float64,
	reflect.Complex64: types.Complex64, reflect.Complex128: types.Complex128, reflect.String: types.String,
	reflect.UnsafePointer: types.UnsafePointer,
}

// typ converts a reflect type to a go/types type.
func (im *importer) typ(t reflect.Type) types.Type {
	if t.Name() != "" {
		if t.PkgPath() == "" {
			if o := types.Universe.Lookup(t.Name()); o != nil {
				return o.Type()
			}
		} else {
			return im.namedType(t)
		}
	}
	return im.underlying(t)
}

func (im *importer) namedType(t reflect.Type) types.Type {
	if n, ok := im.named[t]; ok {
		return n
	}
	pk := im.pkg(t.PkgPath())
	name := t.Name()
	if i := strings.IndexByte(name, '['); i >= 0 {
		if inst := im.instance(pk, name[:i], name[i+1:len(name)-1]); inst != nil {
			return inst
		}
	}
	tn := types.NewTypeName(token.NoPos, pk, name, nil)
	n := types.NewNamed(tn, nil, nil)
	im.named[t] = n
	n.SetUnderlying(im.underlying(t))
	if t.Kind() != reflect.Interface {
		seen := map[string]bool{}
		add := func(rt reflect.Type, ptr bool) {
			for i := 0; i < rt.NumMethod(); i++ {
				m := rt.Method(i)
				if seen[m.Name] {
					continue
				}
				seen[m.Name] = true
				var recvT types.Type = n
				if ptr {
					recvT = types.NewPointer(n)
				}
				sig := im.signature(m.Type, 1, types.NewVar(token.NoPos, pk, "", recvT))
				n.AddMethod(types.NewFunc(token.NoPos, pk, m.Name, sig))
			}
		}
		add(t, false)
		add(reflect.PointerTo(t), true)
	}
	return n
}

// instance resolves a generic instance named by reflection ("Seq[string]")
// through the template's generic type, for simple type arguments.
func (im *importer) instance(pk *types.Package, base, args string) types.Type {
	if _, ok := templateFiles[pk.Path()]; !ok {
		return nil
	}
	if _, err := im.Import(pk.Path()); err != nil {
		return nil
	}
	tn, _ := pk.Scope().Lookup(base).(*types.TypeName)
	if tn == nil {
		return nil
	}
	var targs []types.Type
	for _, a := range strings.Split(args, ",") {
		o := types.Universe.Lookup(strings.TrimSpace(a))
		if o == nil {
			return nil
		}
		targs = append(targs, o.Type())
	}
	inst, err := types.Instantiate(nil, tn.Type(), targs, false)
	if err != nil {
		return nil
	}
	return inst
}

func (im *importer) signature(t reflect.Type, skip int, recv *types.Var) *types.Signature {
	var params, results []*types.Var
	for i := skip; i < t.NumIn(); i++ {
		params = append(params, types.NewParam(token.NoPos, nil, "", im.typ(t.In(i))))
	}
	for i := 0; i < t.NumOut(); i++ {
		results = append(results, types.NewParam(token.NoPos, nil, "", im.typ(t.Out(i))))
	}
	return types.NewSignatureType(recv, nil, nil, types.NewTuple(params...), types.NewTuple(results...), t.IsVariadic())
}

func (im *importer) underlying(t reflect.Type) types.Type {
	if k, ok := basicKinds[t.Kind()]; ok {
		return types.Typ[k]
	}
	switch t.Kind() {
	case reflect.Pointer:
		return types.NewPointer(im.typ(t.Elem()))
	case reflect.Slice:
		return types.NewSlice(im.typ(t.Elem()))
	case reflect.Array:
		return types.NewArray(im.typ(t.Elem()), int64(t.Len()))
	case reflect.Map:
		return types.NewMap(im.typ(t.Key()), im.typ(t.Elem()))
	case reflect.Chan:
		dir := types.SendRecv
		switch t.ChanDir() {
		case reflect.SendDir:
			dir = types.SendOnly
		case reflect.RecvDir:
			dir = types.RecvOnly
		}
		return types.NewChan(dir, im.typ(t.Elem()))
	case reflect.Func:
		return im.signature(t, 0, nil)
	case reflect.Struct:
		var fields []*types.Var
		var tags []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			var pk *types.Package
			if f.PkgPath != "" {
				pk = im.pkg(f.PkgPath)
			}
			fields = append(fields, types.NewField(token.NoPos, pk, f.Name, im.typ(f.Type), f.Anonymous))
			tags = append(tags, string(f.Tag))
		}
		return types.NewStruct(fields, tags)
	case reflect.Interface:
		var methods []*types.Func
		for i := 0; i < t.NumMethod(); i++ {
			m := t.Method(i)
			var pk *types.Package
			if m.PkgPath != "" {
				pk = im.pkg(m.PkgPath)
			}
			methods = append(methods, types.NewFunc(token.NoPos, pk, m.Name, im.signature(m.Type, 0, nil)))
		}
		return types.NewInterfaceType(methods, nil).Complete()
	}
	return types.Typ[types.Invalid]
}
