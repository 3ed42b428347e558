package lower

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/warren-mesh/warren/job/interp/stdlib"
)

// genericDecls lists the generic package-level functions and types of the
// template of path, with their numbers of type parameters.
func genericDecls(t *testing.T, im *importer, path string) (names []string, ntp map[string]int) {
	t.Helper()
	if _, err := im.Import(path); err != nil {
		t.Fatal(err)
	}
	ntp = map[string]int{}
	count := func(fl *ast.FieldList) int {
		n := 0
		for _, f := range fl.List {
			n += len(f.Names)
		}
		return n
	}
	for _, d := range im.tmpl[path].file.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil && d.Type.TypeParams != nil {
				ntp[d.Name.Name] = count(d.Type.TypeParams)
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				if ts, ok := s.(*ast.TypeSpec); ok && ts.TypeParams != nil {
					ntp[ts.Name.Name] = count(ts.TypeParams)
				}
			}
		}
	}
	for n := range ntp {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, ntp
}

// instText instantiates path.name with n type arguments in a new lowering
// of im and returns the helper name and file.
func instText(t *testing.T, im *importer, path, name string, n int) string {
	t.Helper()
	obj := im.pkgs[path].Scope().Lookup(name)
	if obj == nil {
		t.Fatalf("%s.%s not in the package", path, name)
	}
	var args []string
	for i := range n {
		args = append(args, fmt.Sprintf("T%d", i))
	}
	lw := &lowering{fset: token.NewFileSet(), helpers: newHelpers(), im: im, insts: map[string]string{}}
	hn, ok := lw.instantiateArgs(obj, args)
	return fmt.Sprintf("%s %v\n%s", hn, ok, lw.helpers.source())
}

// TestLazyTemplateBodies: instantiating any generic declaration of any
// template gives the same helper whether the template's bodies were
// checked at once with the whole file, or lazily, declaration by
// declaration, in either order (so later checks meet earlier ones).
func TestLazyTemplateBodies(t *testing.T) {
	syms := stdlib.Symbols()
	fwd, rev := newImporter(syms), newImporter(syms)
	paths := make([]string, 0, len(templateFiles))
	for p := range templateFiles {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	type job struct {
		path, name string
		n          int
	}
	var jobs []job
	want := map[job]string{}
	for _, p := range paths {
		// A template imported first, so that the packages it imports
		// are complete when it is checked (see TestHelperImportsSync).
		eager := newImporter(syms)
		eager.eagerBodies = true
		names, ntp := genericDecls(t, eager, p)
		for _, n := range names {
			j := job{p, n, ntp[n]}
			jobs = append(jobs, j)
			want[j] = instText(t, eager, j.path, j.name, j.n)
		}
	}
	if len(jobs) < 40 {
		t.Fatalf("only %d generic template declarations", len(jobs))
	}
	for _, j := range jobs {
		if _, err := fwd.Import(j.path); err != nil {
			t.Fatal(err)
		}
		if got := instText(t, fwd, j.path, j.name, j.n); got != want[j] {
			t.Errorf("%s.%s: lazily checked:\n%s\nchecked whole:\n%s", j.path, j.name, got, want[j])
		}
	}
	for _, j := range slices.Backward(jobs) {
		if _, err := rev.Import(j.path); err != nil {
			t.Fatal(err)
		}
		if got := instText(t, rev, j.path, j.name, j.n); got != want[j] {
			t.Errorf("%s.%s (reverse order): lazily checked:\n%s\nchecked whole:\n%s", j.path, j.name, got, want[j])
		}
	}
}

// TestHelperImportsSync: an atomic.Pointer instance's helper imports the
// sync its fields use, also when the program imports sync first (the
// template is then checked while sync is still being built from the
// tables; its bodies are checked later, with sync complete).
func TestHelperImportsSync(t *testing.T) {
	src := `package main

import (
	"sync"
	"sync/atomic"
)

func main() {
	var mu sync.Mutex
	mu.Lock()
	mu.Unlock()
	var p atomic.Pointer[int]
	x := 1
	p.Store(&x)
	println(*p.Load())
}
`
	r, err := NewLowerer(stdlib.Symbols()).Lower([]File{{Name: "/p/main.go", Src: []byte(src)}})
	if err != nil {
		t.Fatal(err)
	}
	h := string(r.Helper)
	if !strings.Contains(h, "\tsync \"sync\"\n") || !strings.Contains(h, "mu sync.Mutex") {
		t.Errorf("helper does not import the sync it uses:\n%s", h)
	}
}

// TestInstPlans: instDecl's planned and replayed work gives what doing it
// directly (direct) gives, text, result and the helper file, for
// every declaration of every template, with all, some and none of the type
// arguments (the failure paths).
func TestInstPlans(t *testing.T) {
	im := newImporter(stdlib.Symbols())
	paths := make([]string, 0, len(templateFiles))
	for p := range templateFiles {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	n := 0
	for _, p := range paths {
		if _, err := im.Import(p); err != nil {
			t.Fatal(err)
		}
		tp := im.tmpl[p]
		names := make([]string, 0, len(tp.byName))
		for name := range tp.byName {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			obj := tp.pkg.Scope().Lookup(name)
			if obj == nil {
				continue
			}
			subs := []map[string]string{nil, {}}
			if r := tp.root(name); r != nil {
				full, some := map[string]string{}, map[string]string{}
				for i, tpn := range r.tparams {
					full[tpn] = fmt.Sprintf("A%d", i)
					if i > 0 {
						some[tpn] = fmt.Sprintf("[]A%d", i)
					}
				}
				subs = append(subs, full, some)
			}
			for _, d := range tp.byName[name] {
				for si, sub := range subs {
					var got [2]string
					for i, slow := range []bool{true, false} {
						lw := &lowering{fset: token.NewFileSet(), helpers: newHelpers(), im: im, insts: map[string]string{}}
						if slow {
							lw.instDeclDirect = lw.direct
						}
						text, ok := lw.instDecl(tp, d, obj, "NAME", sub)
						got[i] = fmt.Sprintf("%v %d %v\n%s\n---\n%s", ok, lw.n, lw.insts, text, lw.helpers.source())
					}
					if got[0] != got[1] {
						t.Errorf("%s.%s (decl at %v, sub %d): planned:\n%s\ndirect:\n%s", p, name, im.fset.Position(d.Pos()), si, got[1], got[0])
					}
					n++
				}
			}
		}
	}
	if n < 100 {
		t.Fatalf("only %d cases", n)
	}
	t.Logf("%d cases", n)
}

// direct is instDecl without plans, as it was written first: the
// reference the planned instDecl is compared with.
func (lw *lowering) direct(tp *template, d ast.Decl, obj types.Object, name string, sub map[string]string) (string, bool) {
	tf := lw.im.fset.File(d.Pos())
	off := func(p token.Pos) int { return tf.Offset(p) }
	base := off(d.Pos())
	var edits []edit
	rep := func(from, to token.Pos, text string) {
		edits = append(edits, edit{off(from), off(to), text})
	}
	ok := true
	// Drop the type parameter lists and receiver type arguments.
	ast.Inspect(d, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl:
			if n.Type.TypeParams != nil {
				rep(n.Type.TypeParams.Opening, n.Type.TypeParams.Closing+1, "")
			}
			if n.Recv != nil && len(n.Recv.List) > 0 {
				t := n.Recv.List[0].Type
				if s, isStar := t.(*ast.StarExpr); isStar {
					t = s.X
				}
				switch x := t.(type) {
				case *ast.IndexExpr:
					rep(x.Pos(), x.End(), name)
				case *ast.IndexListExpr:
					rep(x.Pos(), x.End(), name)
				}
			}
		case *ast.TypeSpec:
			if n.TypeParams != nil {
				rep(n.TypeParams.Opening, n.TypeParams.Closing+1, "")
			}
		case *ast.IndexExpr, *ast.IndexListExpr:
			// A use of a generic type of the template: instantiate it too.
			x, idx := indexParts(n)
			id, isID := x.(*ast.Ident)
			if !isID {
				return true
			}
			tn, isTN := tp.info.Uses[id].(*types.TypeName)
			if !isTN || !tp.pkgLevel(tn) {
				return true
			}
			if tn == obj || tn.Name() == obj.Name() {
				rep(n.Pos(), n.End(), name)
				return false
			}
			var args []string
			for _, e := range idx {
				ai, isAI := e.(*ast.Ident)
				if !isAI || sub[ai.Name] == "" {
					ok = false
					return false
				}
				args = append(args, sub[ai.Name])
			}
			in, iok := lw.instantiateArgs(tn, args)
			if !iok {
				ok = false
				return false
			}
			rep(n.Pos(), n.End(), in)
			return false
		}
		return true
	})
	covered := func(p token.Pos) bool {
		o := off(p)
		for _, e := range edits {
			if o >= e.start && o < e.end {
				return true
			}
		}
		return false
	}
	ast.Inspect(d, func(n ast.Node) bool {
		id, isID := n.(*ast.Ident)
		if !isID || covered(id.Pos()) {
			return true
		}
		o := tp.info.Uses[id]
		if o == nil {
			o = tp.info.Defs[id]
			if o == nil || !tp.pkgLevel(o) {
				return true
			}
		}
		switch o := o.(type) {
		case *types.PkgName:
			rep(id.Pos(), id.End(), lw.helpers.pkg(o.Imported().Path()))
			return true
		case *types.TypeName:
			if _, isTP := o.Type().(*types.TypeParam); isTP {
				if s, found := sub[o.Name()]; found {
					rep(id.Pos(), id.End(), s)
				} else {
					ok = false
				}
				return true
			}
		}
		if !tp.pkgLevel(o) {
			return true
		}
		switch {
		case o == obj || o.Name() == obj.Name():
			rep(id.Pos(), id.End(), name)
		case o.Pos().IsValid():
			// An unexported declaration of the template: add it renamed.
			hn := "__w_" + strings.ReplaceAll(tp.path, "/", "_") + "_" + o.Name()
			if !lw.helpers.have["decl:"+hn] {
				lw.helpers.have["decl:"+hn] = true
				for _, td := range tp.file.Decls {
					if declares(td, o.Name()) {
						text, dok := lw.instDecl(tp, td, o, hn, nil)
						if !dok {
							ok = false
						}
						lw.helpers.decls = append(lw.helpers.decls, text)
					}
				}
			}
			rep(id.Pos(), id.End(), hn)
		default:
			rep(id.Pos(), id.End(), lw.helpers.pkg(tp.path)+"."+o.Name())
		}
		return true
	})
	src := tp.src[base:off(d.End())]
	return apply(src, edits, base), ok
}
