package lower

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"strings"
)

// instantiate returns the name of the helper that instantiates the template
// of a standard-library generic function or type with targs, adding the
// helper (and the template's own unexported declarations it uses) to the
// helper file.
func (lw *lowering) instantiate(obj types.Object, targs *types.TypeList) (string, bool) {
	var args []string
	for i := 0; i < targs.Len(); i++ {
		a, ok := lw.typeStr(targs.At(i), nil)
		if !ok {
			return "", false
		}
		args = append(args, a)
	}
	return lw.instantiateArgs(obj, args)
}

func (lw *lowering) instantiateArgs(obj types.Object, args []string) (string, bool) {
	path := obj.Pkg().Path()
	tp := lw.im.tmpl[path]
	if tp == nil {
		return "", false
	}
	key := path + "." + obj.Name() + "[" + strings.Join(args, ", ") + "]"
	if n, ok := lw.insts[key]; ok {
		return n, true
	}
	name := lw.fresh("_" + strings.ReplaceAll(path, "/", "_") + "_" + obj.Name() + "_")
	lw.insts[key] = name
	var decls []ast.Decl
	var tparams *ast.FieldList
	for _, d := range tp.file.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil && d.Name.Name == obj.Name() {
				decls, tparams = append(decls, d), d.Type.TypeParams
			} else if d.Recv != nil && recvBase(d.Recv) == obj.Name() {
				decls = append(decls, d)
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				if ts, ok := s.(*ast.TypeSpec); ok && ts.Name.Name == obj.Name() {
					decls, tparams = append([]ast.Decl{d}, decls...), ts.TypeParams
				}
			}
		}
	}
	if len(decls) == 0 || tparams == nil {
		return "", false
	}
	sub := map[string]string{}
	i := 0
	for _, fl := range tparams.List {
		for _, n := range fl.Names {
			if i >= len(args) {
				return "", false
			}
			sub[n.Name] = args[i]
			i++
		}
	}
	var out []string
	for _, d := range decls {
		text, ok := lw.instDecl(tp, d, obj, name, sub)
		if !ok {
			return "", false
		}
		out = append(out, text)
	}
	lw.helpers.add(key, strings.Join(out, "\n\n"))
	return name, true
}

func recvBase(fl *ast.FieldList) string {
	if fl == nil || len(fl.List) == 0 {
		return ""
	}
	t := fl.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	switch x := t.(type) {
	case *ast.IndexExpr:
		t = x.X
	case *ast.IndexListExpr:
		t = x.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

// instDecl writes one template declaration instantiated: type parameters
// substituted, the type parameter list dropped, package names replaced by
// the helper file's, and the template's unexported declarations renamed.
func (lw *lowering) instDecl(tp *template, d ast.Decl, obj types.Object, name string, sub map[string]string) (string, bool) {
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
			var x ast.Expr
			var idx []ast.Expr
			if ie, isIE := n.(*ast.IndexExpr); isIE {
				x, idx = ie.X, []ast.Expr{ie.Index}
			} else {
				ile := n.(*ast.IndexListExpr)
				x, idx = ile.X, ile.Indices
			}
			id, isID := x.(*ast.Ident)
			if !isID {
				return true
			}
			tn, isTN := tp.info.Uses[id].(*types.TypeName)
			if !isTN || tn.Parent() != tp.pkg.Scope() {
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
			if o == nil || o.Parent() != tp.pkg.Scope() {
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
		if o.Parent() != tp.pkg.Scope() {
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

func declares(d ast.Decl, name string) bool {
	switch d := d.(type) {
	case *ast.FuncDecl:
		return d.Recv == nil && d.Name.Name == name
	case *ast.GenDecl:
		for _, s := range d.Specs {
			switch s := s.(type) {
			case *ast.ValueSpec:
				for _, n := range s.Names {
					if n.Name == name {
						return true
					}
				}
			case *ast.TypeSpec:
				if s.Name.Name == name {
					return true
				}
			}
		}
	}
	return false
}

var _ = fmt.Sprint
