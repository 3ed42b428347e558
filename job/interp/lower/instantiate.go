package lower

import (
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
	root := tp.root(obj.Name())
	if root == nil || len(root.tparams) > len(args) {
		return "", false
	}
	sub := make(map[string]string, len(root.tparams))
	for i, n := range root.tparams {
		sub[n] = args[i]
	}
	var out []string
	for _, d := range root.decls {
		text, ok := lw.instDecl(tp, d, obj, name, sub)
		if !ok {
			return "", false
		}
		out = append(out, text)
	}
	lw.helpers.add(key, strings.Join(out, "\n\n"))
	return name, true
}

// instRoot is what instantiating a generic declaration of a template
// copies: the declaration and, for a type, its methods; and the names of
// its type parameters.
type instRoot struct {
	decls   []ast.Decl
	tparams []string
}

// root returns the instRoot of the template's declaration name, nil if
// there is no generic one.
func (tp *template) root(name string) *instRoot {
	if r, ok := tp.roots[name]; ok {
		return r
	}
	var decls []ast.Decl
	var tparams *ast.FieldList
	for _, d := range tp.byName[name] { // in file order
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil && d.Name.Name == name {
				decls, tparams = append(decls, d), d.Type.TypeParams
			} else if d.Recv != nil && recvBase(d.Recv) == name {
				decls = append(decls, d)
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				if ts, ok := s.(*ast.TypeSpec); ok && ts.Name.Name == name {
					decls, tparams = append([]ast.Decl{d}, decls...), ts.TypeParams
				}
			}
		}
	}
	var r *instRoot
	if len(decls) > 0 && tparams != nil {
		r = &instRoot{decls: decls}
		for _, fl := range tparams.List {
			for _, n := range fl.Names {
				r.tparams = append(r.tparams, n.Name)
			}
		}
	}
	tp.roots[name] = r
	return r
}

// checkTemplateBodies checks the bodies of the template declarations the
// program instantiates, one check per template, before the lowering needs
// them (instDecl would check them one by one).
func (lw *lowering) checkTemplateBodies() {
	var roots map[*template][]ast.Decl
	for id := range lw.info.Instances {
		obj := lw.info.Uses[id]
		if obj == nil || obj.Pkg() == nil {
			continue
		}
		tp := lw.im.tmpl[obj.Pkg().Path()]
		if tp == nil {
			continue
		}
		for _, d := range tp.byName[obj.Name()] {
			if !tp.checked[d] {
				if roots == nil {
					roots = map[*template][]ast.Decl{}
				}
				roots[tp] = append(roots[tp], d)
			}
		}
	}
	for tp, ds := range roots {
		lw.im.checkBodies(tp, ds...)
	}
}

// indexParts splits an instantiation X[I] or X[I, J, ...] into X and its
// index expressions (n is an *ast.IndexExpr or *ast.IndexListExpr).
func indexParts(n ast.Node) (x ast.Expr, idx []ast.Expr) {
	if ie, ok := n.(*ast.IndexExpr); ok {
		return ie.X, []ast.Expr{ie.Index}
	}
	ile := n.(*ast.IndexListExpr)
	return ile.X, ile.Indices
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
//
// The work depends on the template and on obj's name only, except for the
// texts of some edits and whether some are made, so it is planned once
// (plan) and replayed for each instance (replay). The tests keep the
// direct implementation (instDeclDirect) and compare the two.
func (lw *lowering) instDecl(tp *template, d ast.Decl, obj types.Object, name string, sub map[string]string) (string, bool) {
	if !tp.checked[d] {
		lw.im.checkBodies(tp, d)
	}
	if lw.instDeclDirect != nil {
		return lw.instDeclDirect(tp, d, obj, name, sub)
	}
	k := planKey{d, obj.Name()}
	p := tp.plans[k]
	if p == nil {
		p = tp.plan(lw.im.fset, d, obj.Name())
		tp.plans[k] = p
	}
	return lw.replay(tp, p, name, sub)
}

type planKey struct {
	d   ast.Decl
	obj string
}

// instPlan is instDeclDirect's work on a declaration for an object name: its
// two passes over the declaration, as the edits they would make, in the
// order they make them.
type instPlan struct {
	base, end int
	edits     []planEdit
}

type planOp uint8

const (
	opText   planOp = iota // text
	opName                 // the instance's name
	opNested               // instantiate the template's generic type tn with the arguments substituted for args ("" for one that is not a type parameter's name: fails)
	opPkg                  // the helper file's name for package path text
	opSub                  // the argument of type parameter text; none: no edit, and the instance fails
	opLocal                // text: the helper name of the template's own declaration obj, added once
	opQual                 // text: the name of a declaration of the package's tables, qualified
)

type planEdit struct {
	start, end int
	op         planOp
	text       string
	obj        types.Object // opNested: the generic type; opLocal: the declaration
	args       []string     // opNested
	// unless lists the opNested edits covering this second-pass edit: it
	// is made only if none of them is (instDeclDirect's covered).
	unless []int
}

// plan records the work of instDeclDirect(tp, d, obj, ...) for an obj of
// that name, with every opNested edit taken as made; the second pass
// records the edits of identifiers opNested edits cover, as made only if
// those are not.
func (tp *template) plan(fset *token.FileSet, d ast.Decl, objName string) *instPlan {
	tf := fset.File(d.Pos())
	off := func(p token.Pos) int { return tf.Offset(p) }
	p := &instPlan{base: off(d.Pos()), end: off(d.End())}
	add := func(from, to token.Pos, op planOp, text string) *planEdit {
		p.edits = append(p.edits, planEdit{start: off(from), end: off(to), op: op, text: text})
		return &p.edits[len(p.edits)-1]
	}
	ast.Inspect(d, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl:
			if n.Type.TypeParams != nil {
				add(n.Type.TypeParams.Opening, n.Type.TypeParams.Closing+1, opText, "")
			}
			if n.Recv != nil && len(n.Recv.List) > 0 {
				t := n.Recv.List[0].Type
				if s, isStar := t.(*ast.StarExpr); isStar {
					t = s.X
				}
				switch x := t.(type) {
				case *ast.IndexExpr:
					add(x.Pos(), x.End(), opName, "")
				case *ast.IndexListExpr:
					add(x.Pos(), x.End(), opName, "")
				}
			}
		case *ast.TypeSpec:
			if n.TypeParams != nil {
				add(n.TypeParams.Opening, n.TypeParams.Closing+1, opText, "")
			}
		case *ast.IndexExpr, *ast.IndexListExpr:
			x, idx := indexParts(n)
			id, isID := x.(*ast.Ident)
			if !isID {
				return true
			}
			tn, isTN := tp.info.Uses[id].(*types.TypeName)
			if !isTN || !tp.pkgLevel(tn) {
				return true
			}
			if tn.Name() == objName {
				add(n.Pos(), n.End(), opName, "")
				return false
			}
			e := add(n.Pos(), n.End(), opNested, "")
			e.obj = tn
			for _, ix := range idx {
				a := ""
				if ai, isAI := ix.(*ast.Ident); isAI {
					a = ai.Name
				}
				e.args = append(e.args, a)
			}
			return false
		}
		return true
	})
	first := len(p.edits)
	ast.Inspect(d, func(n ast.Node) bool {
		id, isID := n.(*ast.Ident)
		if !isID {
			return true
		}
		o := off(id.Pos())
		var unless []int
		for i, e := range p.edits[:first] {
			if o >= e.start && o < e.end {
				if e.op != opNested {
					return true // covered
				}
				unless = append(unless, i)
			}
		}
		obj := tp.info.Uses[id]
		if obj == nil {
			obj = tp.info.Defs[id]
			if obj == nil || !tp.pkgLevel(obj) {
				return true
			}
		}
		var e *planEdit
		switch ob := obj.(type) {
		case *types.PkgName:
			e = add(id.Pos(), id.End(), opPkg, ob.Imported().Path())
		case *types.TypeName:
			if _, isTP := ob.Type().(*types.TypeParam); isTP {
				e = add(id.Pos(), id.End(), opSub, ob.Name())
			}
		}
		if e == nil {
			if !tp.pkgLevel(obj) {
				return true
			}
			switch {
			case obj.Name() == objName:
				e = add(id.Pos(), id.End(), opName, "")
			case obj.Pos().IsValid():
				e = add(id.Pos(), id.End(), opLocal, "__w_"+strings.ReplaceAll(tp.path, "/", "_")+"_"+obj.Name())
				e.obj = obj
			default:
				e = add(id.Pos(), id.End(), opQual, obj.Name())
			}
		}
		e.unless = unless
		return true
	})
	return p
}

// replay does the work of plan p as instDeclDirect would.
func (lw *lowering) replay(tp *template, p *instPlan, name string, sub map[string]string) (string, bool) {
	var texts [32]string
	var made [32]bool
	text, done := texts[:0], made[:0]
	if len(p.edits) > len(texts) {
		text, done = make([]string, len(p.edits)), make([]bool, len(p.edits))
	} else {
		text, done = texts[:len(p.edits)], made[:len(p.edits)]
	}
	ok := true
	for i := range p.edits {
		e := &p.edits[i]
		if len(e.unless) > 0 {
			skip := false
			for _, j := range e.unless {
				skip = skip || done[j]
			}
			if skip {
				continue
			}
		}
		switch e.op {
		case opText:
			text[i], done[i] = e.text, true
		case opName:
			text[i], done[i] = name, true
		case opNested:
			var args []string
			for _, a := range e.args {
				if sub[a] == "" {
					ok = false
					args = nil
					break
				}
				args = append(args, sub[a])
			}
			if args == nil {
				continue
			}
			in, iok := lw.instantiateArgs(e.obj, args)
			if !iok {
				ok = false
				continue
			}
			text[i], done[i] = in, true
		case opPkg:
			text[i], done[i] = lw.helpers.pkg(e.text), true
		case opSub:
			if s, found := sub[e.text]; found {
				text[i], done[i] = s, true
			} else {
				ok = false
			}
		case opLocal:
			if !lw.helpers.have["decl:"+e.text] {
				lw.helpers.have["decl:"+e.text] = true
				for _, td := range tp.byName[e.obj.Name()] {
					if declares(td, e.obj.Name()) {
						t, dok := lw.instDecl(tp, td, e.obj, e.text, nil)
						if !dok {
							ok = false
						}
						lw.helpers.decls = append(lw.helpers.decls, t)
					}
				}
			}
			text[i], done[i] = e.text, true
		case opQual:
			text[i], done[i] = lw.helpers.pkg(tp.path)+"."+e.text, true
		}
	}
	es := make([]edit, 0, len(p.edits))
	for i, e := range p.edits {
		if done[i] {
			es = append(es, edit{e.start, e.end, text[i]})
		}
	}
	return apply(tp.src[p.base:p.end], es, p.base), ok
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
