package lower

import (
	"cmp"
	"errors"
	"fmt"
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"slices"
	"strconv"
	"strings"
)

// typecheck runs go/types over the program. Errors are kept, not fatal:
// the interpreter decides what it accepts; the lowering uses whatever type
// information the checker could work out.
func (lw *lowering) typecheck(files []*ast.File, info *types.Info) {
	if info == nil {
		// Sized from the source so the maps do not grow entry by entry
		// while the checker fills them (measured: about one expression
		// per 7 bytes and one identifier use per 12).
		size := 0
		for _, f := range lw.files {
			size += len(f.src)
		}
		info = &types.Info{
			Types:      make(map[ast.Expr]types.TypeAndValue, size/6),
			Uses:       make(map[*ast.Ident]types.Object, size/10),
			Defs:       make(map[*ast.Ident]types.Object, size/32),
			Instances:  map[*ast.Ident]types.Instance{},
			Selections: map[*ast.SelectorExpr]*types.Selection{},
		}
	}
	lw.info = info
	conf := types.Config{Context: lw.im.ctxt, Importer: lw.im, GoVersion: "go1.26", Error: func(err error) { lw.typeErrs = append(lw.typeErrs, err) }}
	_, _ = conf.Check("main", lw.fset, files, lw.info)
}

// unusedErrors returns the checker's "declared and not used", "imported
// and not used" and "imported as x and not used" errors (a label too),
// which the Go compiler refuses a program for and the interpreter does not
// notice: a program that does not build with go build must not run here
// either. (Other checker errors are left to the interpreter, which reports
// its own.)
func (lw *lowering) unusedErrors() error {
	var unused []types.Error
	for _, err := range lw.typeErrs {
		var te types.Error
		if errors.As(err, &te) && (strings.HasPrefix(te.Msg, "declared and not used") || strings.HasSuffix(te.Msg, " and not used")) {
			unused = append(unused, te)
		}
	}
	slices.SortStableFunc(unused, func(a, b types.Error) int { return cmp.Compare(a.Pos, b.Pos) }) // in source order, as go build
	errs := make([]error, len(unused))
	for i, te := range unused {
		errs[i] = te
	}
	return errors.Join(errs...)
}

// maxKeptInfo bounds the entries of the type information maps a Lowerer
// keeps for the next call: clearing a map costs its capacity.
const maxKeptInfo = 1 << 14

// keepInfo empties the maps of info for reuse, or returns nil when they
// are too large to keep.
func keepInfo(info *types.Info) *types.Info {
	if len(info.Types) > maxKeptInfo || len(info.Uses) > maxKeptInfo {
		return nil
	}
	clear(info.Types)
	clear(info.Uses)
	clear(info.Defs)
	clear(info.Instances)
	clear(info.Selections)
	return info
}

func (lw *lowering) isBuiltin(id *ast.Ident) bool {
	_, ok := lw.info.Uses[id].(*types.Builtin)
	return ok
}

func (lw *lowering) typeOf(e ast.Expr) types.Type {
	if tv, ok := lw.info.Types[e]; ok {
		return tv.Type
	}
	if id, ok := e.(*ast.Ident); ok {
		if o := lw.info.Uses[id]; o != nil {
			return o.Type()
		}
		if o := lw.info.Defs[id]; o != nil {
			return o.Type()
		}
	}
	return nil
}

// typeStr writes t as Go source: in file f (nil: in the helper file).
func (lw *lowering) typeStr(t types.Type, f *file) (string, bool) {
	switch t := t.(type) {
	case *types.Basic:
		if t.Info()&types.IsUntyped != 0 {
			return lw.typeStr(types.Default(t), f)
		}
		if t.Kind() == types.Invalid || t.Kind() == types.UnsafePointer {
			return "", false
		}
		return t.Name(), true
	case *types.Alias:
		return lw.typeStr(types.Unalias(t), f)
	case *types.TypeParam:
		return t.Obj().Name(), f != nil
	case *types.Named:
		obj := t.Obj()
		pkg := obj.Pkg()
		if pkg == nil {
			return obj.Name(), true
		}
		if t.TypeArgs().Len() > 0 {
			if _, ok := templateFiles[pkg.Path()]; ok {
				if pkg.Path() == "iter" {
					return lw.typeStr(t.Underlying(), f)
				}
				return lw.instantiate(obj, t.TypeArgs())
			}
		}
		var name string
		switch {
		case pkg.Path() == "main":
			if obj.Parent() != pkg.Scope() && f == nil {
				return "", false // a type local to a function
			}
			name = obj.Name()
		case f != nil:
			n, ok := f.importName(pkg.Path())
			if !ok {
				return "", false
			}
			name = n + "." + obj.Name()
		default:
			name = lw.helpers.pkg(pkg.Path()) + "." + obj.Name()
		}
		if t.TypeArgs().Len() > 0 {
			var args []string
			for i := 0; i < t.TypeArgs().Len(); i++ {
				a, ok := lw.typeStr(t.TypeArgs().At(i), f)
				if !ok {
					return "", false
				}
				args = append(args, a)
			}
			name += "[" + strings.Join(args, ", ") + "]"
		}
		return name, true
	case *types.Pointer:
		e, ok := lw.typeStr(t.Elem(), f)
		return "*" + e, ok
	case *types.Slice:
		e, ok := lw.typeStr(t.Elem(), f)
		return "[]" + e, ok
	case *types.Array:
		e, ok := lw.typeStr(t.Elem(), f)
		return fmt.Sprintf("[%d]%s", t.Len(), e), ok
	case *types.Map:
		k, ok1 := lw.typeStr(t.Key(), f)
		v, ok2 := lw.typeStr(t.Elem(), f)
		return "map[" + k + "]" + v, ok1 && ok2
	case *types.Chan:
		e, ok := lw.typeStr(t.Elem(), f)
		switch t.Dir() {
		case types.SendOnly:
			return "chan<- " + e, ok
		case types.RecvOnly:
			return "<-chan " + e, ok
		}
		if strings.HasPrefix(e, "<-") {
			e = "(" + e + ")"
		}
		return "chan " + e, ok
	case *types.Signature:
		return lw.sigStr(t, f)
	case *types.Struct:
		var parts []string
		for i := 0; i < t.NumFields(); i++ {
			fl := t.Field(i)
			if !fl.Exported() && fl.Pkg() != nil && fl.Pkg().Path() != "main" {
				return "", false
			}
			ft, ok := lw.typeStr(fl.Type(), f)
			if !ok {
				return "", false
			}
			s := fl.Name() + " " + ft
			if fl.Embedded() {
				s = ft
			}
			if tag := t.Tag(i); tag != "" {
				s += " " + strconv.Quote(tag)
			}
			parts = append(parts, s)
		}
		return "struct{" + strings.Join(parts, "; ") + "}", true
	case *types.Interface:
		if t.Empty() {
			return "any", true
		}
		if !t.IsMethodSet() {
			return "", false
		}
		var parts []string
		for i := 0; i < t.NumMethods(); i++ {
			m := t.Method(i)
			if !m.Exported() && m.Pkg() != nil && m.Pkg().Path() != "main" {
				return "", false
			}
			s, ok := lw.sigStr(m.Type().(*types.Signature), f)
			if !ok {
				return "", false
			}
			parts = append(parts, m.Name()+strings.TrimPrefix(s, "func"))
		}
		return "interface{" + strings.Join(parts, "; ") + "}", true
	}
	return "", false
}

func (lw *lowering) sigStr(s *types.Signature, f *file) (string, bool) {
	tuple := func(tp *types.Tuple, variadic bool) (string, bool) {
		var parts []string
		for i := 0; i < tp.Len(); i++ {
			t := tp.At(i).Type()
			if variadic && i == tp.Len()-1 {
				e, ok := lw.typeStr(t.(*types.Slice).Elem(), f)
				if !ok {
					return "", false
				}
				parts = append(parts, "..."+e)
				continue
			}
			e, ok := lw.typeStr(t, f)
			if !ok {
				return "", false
			}
			parts = append(parts, e)
		}
		return strings.Join(parts, ", "), true
	}
	p, ok1 := tuple(s.Params(), s.Variadic())
	r, ok2 := tuple(s.Results(), false)
	out := "func(" + p + ")"
	switch {
	case s.Results().Len() == 1:
		out += " " + r
	case s.Results().Len() > 1:
		out += " (" + r + ")"
	}
	return out, ok1 && ok2
}

// importName is the name file f imports path under.
func (f *file) importName(path string) (string, bool) {
	for _, is := range f.ast.Imports {
		p, _ := strconv.Unquote(is.Path.Value)
		if p != path {
			continue
		}
		if is.Name != nil {
			if is.Name.Name == "_" || is.Name.Name == "." {
				return "", false
			}
			return is.Name.Name, true
		}
		i := strings.LastIndexByte(p, '/')
		return p[i+1:], true
	}
	return "", false
}

// instance rewrites a use of a generic function or type (id, with stack
// its ancestors): the standard library's become instantiated helpers
// (Yaegi cannot run the native ones and its own generic sources are
// partial); the program's own get explicit type arguments where Go
// inferred them (Yaegi's inference has gaps).
func (lw *lowering) instance(f *file, id *ast.Ident, stack []ast.Node) {
	inst, ok := lw.info.Instances[id]
	if !ok {
		return
	}
	obj := lw.info.Uses[id]
	if obj == nil || obj.Pkg() == nil {
		return
	}
	parent := func(k int) ast.Node {
		if k <= len(stack) {
			return stack[len(stack)-k]
		}
		return nil
	}
	var expr ast.Node = id
	up := 1
	if sel, ok := parent(1).(*ast.SelectorExpr); ok && sel.Sel == id {
		expr, up = sel, 2
	}
	explicit := false
	switch p := parent(up).(type) {
	case *ast.IndexExpr:
		if p.X == expr {
			expr, explicit = p, true
		}
	case *ast.IndexListExpr:
		if p.X == expr {
			expr, explicit = p, true
		}
	}
	path := obj.Pkg().Path()
	if _, ok := templateFiles[path]; ok {
		var text string
		ok := false
		if _, isType := obj.(*types.TypeName); isType {
			text, ok = lw.typeStr(inst.Type, f)
		} else {
			text, ok = lw.instantiate(obj, inst.TypeArgs)
		}
		if !ok {
			lw.unsupportedAt(id.Pos(), fmt.Sprintf("%s.%s instantiated with types the lowering cannot name", path, obj.Name()))
			return
		}
		f.replace(expr.Pos(), expr.End(), text)
		return
	}
	if path == "main" && !explicit {
		if _, isFunc := obj.(*types.Func); !isFunc {
			return
		}
		var args []string
		for i := 0; i < inst.TypeArgs.Len(); i++ {
			a, ok := lw.typeStr(inst.TypeArgs.At(i), f)
			if !ok {
				return
			}
			args = append(args, a)
		}
		f.insert(expr.End(), "["+strings.Join(args, ", ")+"]")
	}
}

// call rewrites builtins Yaegi lacks (min, max, clear) and errors.As.
func (lw *lowering) call(f *file, c *ast.CallExpr) {
	switch fn := c.Fun.(type) {
	case *ast.Ident:
		if !lw.isBuiltin(fn) {
			return
		}
		switch fn.Name {
		case "min", "max":
			lw.minMax(f, c, fn.Name)
		case "clear":
			lw.clear(f, c)
		}
	case *ast.SelectorExpr:
		if o, ok := lw.info.Uses[fn.Sel].(*types.Func); ok && o.Pkg() != nil && isNativeGoroutine(o) {
			lw.guardCallback(f, c.Args[len(c.Args)-1])
			return
		}
		if o, ok := lw.info.Uses[fn.Sel].(*types.Func); ok && o.Pkg() != nil && o.Pkg().Path() == "errors" {
			switch {
			case o.Name() == "As" && len(c.Args) == 2:
				lw.errorsAs(f, c)
			case o.Name() == "Is" && len(c.Args) == 2:
				lw.errorsHelper(f, c, "errorsIs", errorsIsSrc)
			case o.Name() == "Unwrap" && len(c.Args) == 1:
				lw.errorsHelper(f, c, "errorsUnwrap", errorsUnwrapSrc)
			}
		}
	}
}

func (lw *lowering) minMax(f *file, c *ast.CallExpr, name string) {
	tv, ok := lw.info.Types[c]
	if !ok || tv.Type == nil {
		return
	}
	t := types.Default(tv.Type)
	if tv.Value != nil {
		lit := constLiteral(tv.Value, tv.Type)
		if ts, ok := lw.typeStr(t, f); ok && lit != "" {
			if tv.Type.(*types.Basic) != nil && tv.Type.(*types.Basic).Info()&types.IsUntyped != 0 {
				f.replace(c.Pos(), c.End(), lit)
			} else {
				f.replace(c.Pos(), c.End(), ts+"("+lit+")")
			}
			return
		}
	}
	op := "<"
	if name == "max" {
		op = ">"
	}
	body := func(ts string) string {
		nan := ""
		if b, ok := t.Underlying().(*types.Basic); ok && b.Info()&types.IsFloat != 0 {
			nan = "if x != x { return x }; if y != y { return y }; "
		}
		return fmt.Sprintf("(x %s, ys ...%s) %s { for _, y := range ys { %sif y %s x { x = y } }; return x }", ts, ts, ts, nan, op)
	}
	args := make([]string, len(c.Args))
	for i, a := range c.Args {
		args[i] = f.node(a)
	}
	if ts, ok := lw.typeStr(t, nil); ok {
		key := name + "/" + ts
		hn, ok := lw.insts[key]
		if !ok {
			hn = lw.fresh(name)
			lw.insts[key] = hn
			lw.helpers.add(key, "func "+hn+body(ts))
		}
		f.replace(c.Pos(), c.End(), hn+"("+strings.Join(args, ", ")+")")
		return
	}
	if ts, ok := lw.typeStr(t, f); ok {
		f.replace(c.Pos(), c.End(), "func"+body(ts)+"("+strings.Join(args, ", ")+")")
		return
	}
	lw.unsupportedAt(c.Pos(), name+" of a type the lowering cannot name")
}

func constLiteral(v constant.Value, t types.Type) string {
	switch v.Kind() {
	case constant.Int:
		return v.ExactString()
	case constant.String, constant.Bool:
		return v.ExactString()
	case constant.Float:
		x, _ := constant.Float64Val(v)
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eEn") {
			s += ".0"
		}
		return s
	}
	return ""
}

func (lw *lowering) clear(f *file, c *ast.CallExpr) {
	if len(c.Args) != 1 {
		return
	}
	t := lw.typeOf(c.Args[0])
	if t == nil {
		return
	}
	var body string
	switch u := t.Underlying().(type) {
	case *types.Map:
		body = "for k := range x { delete(x, k) }"
	case *types.Slice:
		es, ok := lw.typeStr(u.Elem(), f)
		if !ok {
			lw.unsupportedAt(c.Pos(), "clear of a slice whose element type the lowering cannot name")
			return
		}
		body = "var z " + es + "; for i := range x { x[i] = z }"
	default:
		return
	}
	ts, ok := lw.typeStr(t, f)
	if !ok {
		lw.unsupportedAt(c.Pos(), "clear of a type the lowering cannot name")
		return
	}
	f.replace(c.Pos(), c.End(), "func(x "+ts+") { "+body+" }("+f.node(c.Args[0])+")")
}

// errorsAs replaces errors.As for a target of a type the program declares:
// the native errors.As cannot see that an interpreted type implements error.
func (lw *lowering) errorsAs(f *file, c *ast.CallExpr) {
	pt, ok := lw.typeOf(c.Args[1]).(*types.Pointer)
	if !ok {
		return
	}
	elem := pt.Elem()
	ts, ok := lw.typeStr(elem, nil)
	if !ok {
		lw.unsupportedAt(c.Pos(), "errors.As with a target type the lowering cannot name")
		return
	}
	key := "errorsAs/" + ts
	hn, ok := lw.insts[key]
	if !ok {
		hn = lw.fresh("errorsAs")
		lw.insts[key] = hn
		lw.helpers.add(key, fmt.Sprintf(`func %[1]s(err error, target *%[2]s) bool {
	for err != nil {
		if e, ok := err.(%[2]s); ok {
			*target = e
			return true
		}
		if x, ok := err.(interface{ As(any) bool }); ok && x.As(target) {
			return true
		}
		var next error
		var list []error
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			next = u.Unwrap()
		case interface{ Unwrap() []error }:
			list = u.Unwrap()
		default:
			next, list = __wrt.Unwrap(err)
		}
		for _, e := range list {
			if e != nil && %[1]s(e, target) {
				return true
			}
		}
		err = next
	}
	return false
}`, hn, ts))
	}
	f.replace(c.Fun.Pos(), c.Fun.End(), hn)
}

// captured says whether body closes over (or takes the address of) any of
// the variables objs: then Go 1.22 gives each iteration its own copy.
func (lw *lowering) captured(body ast.Node, objs map[types.Object]bool) (captured, assigned bool) {
	var visit func(n ast.Node, inLit bool)
	visit = func(n ast.Node, inLit bool) {
		ast.Inspect(n, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncLit:
				if !inLit {
					visit(n.Body, true)
					return false
				}
			case *ast.Ident:
				if inLit && objs[lw.info.Uses[n]] {
					captured = true
				}
			case *ast.UnaryExpr:
				if id, ok := n.X.(*ast.Ident); ok && n.Op == token.AND && objs[lw.info.Uses[id]] {
					captured = true
				}
			case *ast.AssignStmt:
				for _, l := range n.Lhs {
					if id, ok := l.(*ast.Ident); ok && objs[lw.info.Uses[id]] {
						assigned = true
					}
				}
			case *ast.IncDecStmt:
				if id, ok := n.X.(*ast.Ident); ok && objs[lw.info.Uses[id]] {
					assigned = true
				}
			}
			return true
		})
	}
	visit(body, false)
	return
}

// forStmt gives a three-clause loop's variables per-iteration copies when
// the body captures them (Yaegi shares one variable across iterations).
func (lw *lowering) forStmt(f *file, s *ast.ForStmt) {
	as, ok := s.Init.(*ast.AssignStmt)
	if !ok || as.Tok != token.DEFINE {
		return
	}
	objs := map[types.Object]bool{}
	var names []string
	for _, l := range as.Lhs {
		if id, ok := l.(*ast.Ident); ok && id.Name != "_" {
			if o := lw.info.Defs[id]; o != nil {
				objs[o] = true
				names = append(names, id.Name)
			}
		}
	}
	if len(names) == 0 {
		return
	}
	captured, assigned := lw.captured(s.Body, objs)
	if !captured {
		return
	}
	if assigned {
		lw.unsupportedAt(s.Pos(), "loop variable captured by a closure and assigned in the body keeps one variable for all iterations")
		return
	}
	n := strings.Join(names, ", ")
	f.insert(s.Body.Lbrace+1, " "+n+" := "+n+";")
}

// rangeStmt lowers range over int and over functions, and gives range
// variables per-iteration copies when captured.
func (lw *lowering) rangeStmt(f *file, r *ast.RangeStmt, stack []ast.Node) {
	t := lw.typeOf(r.X)
	if t == nil {
		return
	}
	switch u := t.Underlying().(type) {
	case *types.Basic:
		if u.Info()&types.IsInteger != 0 {
			lw.rangeInt(f, r, t)
		}
		if u.Info()&types.IsString != 0 {
			lw.rangeString(f, r)
		}
		return
	case *types.Signature:
		lw.rangeFunc(f, r, u, stack)
		return
	}
	if r.Tok != token.DEFINE {
		return
	}
	objs := map[types.Object]bool{}
	var names []string
	for _, e := range []ast.Expr{r.Key, r.Value} {
		if id, ok := e.(*ast.Ident); ok && id.Name != "_" {
			if o := lw.info.Defs[id]; o != nil {
				objs[o] = true
				names = append(names, id.Name)
			}
		}
	}
	if len(names) == 0 {
		return
	}
	if captured, _ := lw.captured(r.Body, objs); captured {
		n := strings.Join(names, ", ")
		f.insert(r.Body.Lbrace+1, " "+n+" := "+n+";")
	}
}

func (lw *lowering) rangeInt(f *file, r *ast.RangeStmt, t types.Type) {
	ts, ok := lw.typeStr(types.Default(t), f)
	if !ok {
		lw.unsupportedAt(r.Pos(), "range over an integer of a type the lowering cannot name")
		return
	}
	i, n := lw.fresh("i"), lw.fresh("n")
	head := fmt.Sprintf("for %s, %s := %s(0), (%s); %s < %s; %s++ ", i, n, ts, f.node(r.X), i, n, i)
	f.replace(r.For, r.Body.Lbrace, head)
	if r.Key != nil {
		k := f.node(r.Key)
		if r.Tok == token.DEFINE {
			if k != "_" {
				f.insert(r.Body.Lbrace+1, " "+k+" := "+i+"; _ = "+k+";")
			}
		} else {
			f.insert(r.Body.Lbrace+1, " "+k+" = "+i+";")
		}
	}
}

// rangeFunc lowers `for k, v := range seq { body }` to
// `seq(func(k K, v V) bool { body; return true })`: continue becomes
// return true, break return false, and a return leaves through variables
// of the outermost such loop of the function, checked after each call.
func (lw *lowering) rangeFunc(f *file, r *ast.RangeStmt, sig *types.Signature, stack []ast.Node) {
	if sig.Params().Len() != 1 {
		return
	}
	ysig, ok := sig.Params().At(0).Type().Underlying().(*types.Signature)
	if !ok {
		return
	}
	// Enclosing function, outermost range-over-func loop in it, and label.
	var fnType *types.Signature
	var label *ast.LabeledStmt
	if ls, ok := stack[len(stack)-1].(*ast.LabeledStmt); ok {
		label = ls
	}
	outer := r
	for i := len(stack) - 1; i >= 0 && fnType == nil; i-- {
		switch n := stack[i].(type) {
		case *ast.FuncLit:
			fnType, _ = lw.typeOf(n).(*types.Signature)
		case *ast.FuncDecl:
			if o, ok := lw.info.Defs[n.Name].(*types.Func); ok {
				fnType = o.Type().(*types.Signature)
			}
		case *ast.RangeStmt:
			if t := lw.typeOf(n.X); t != nil {
				if _, ok := t.Underlying().(*types.Signature); ok {
					outer = n
				}
			}
		}
	}
	if fnType == nil {
		lw.unsupportedAt(r.Pos(), "range over func outside a function")
		return
	}
	// Yield parameters.
	var params, pre []string
	vars := []ast.Expr{r.Key, r.Value}
	for i := 0; i < ysig.Params().Len(); i++ {
		ts, ok := lw.typeStr(ysig.Params().At(i).Type(), f)
		if !ok {
			lw.unsupportedAt(r.Pos(), "range over func yielding a type the lowering cannot name")
			return
		}
		name := lw.fresh("y")
		if i < 2 && vars[i] != nil {
			v := f.node(vars[i])
			if r.Tok == token.DEFINE {
				if v != "_" {
					name = v
				}
			} else if v != "_" {
				pre = append(pre, v+" = "+name+";")
			}
		}
		params = append(params, name+" "+ts)
	}
	retFlag := fmt.Sprintf("__wret%d", outer.Pos())
	retVar := func(i int) string { return fmt.Sprintf("__wr%d_%d", outer.Pos(), i) }
	hasReturn := false
	ok = true
	// Rewrite the body's branch and return statements that leave this loop.
	var walk func(n ast.Node, depthLoop, depthSwitch int)
	walk = func(n ast.Node, depthLoop, depthSwitch int) {
		ast.Inspect(n, func(c ast.Node) bool {
			if c == n {
				return true
			}
			switch c := c.(type) {
			case *ast.FuncLit:
				return false
			case *ast.ForStmt, *ast.RangeStmt:
				if rs, isRange := c.(*ast.RangeStmt); isRange {
					if t := lw.typeOf(rs.X); t != nil {
						if _, isFunc := t.Underlying().(*types.Signature); isFunc {
							// Its own rewrite handled its body; a return in it
							// set our flag, which it checks after its call.
							if lw.containsReturn(rs.Body) {
								hasReturn = true
							}
							return false
						}
					}
				}
				walk(c, depthLoop+1, depthSwitch)
				return false
			case *ast.SwitchStmt, *ast.TypeSwitchStmt, *ast.SelectStmt:
				walk(c, depthLoop, depthSwitch+1)
				return false
			case *ast.BranchStmt:
				target := false
				if c.Label == nil {
					target = (c.Tok == token.CONTINUE && depthLoop == 0) || (c.Tok == token.BREAK && depthLoop == 0 && depthSwitch == 0)
				} else if label != nil && c.Label.Name == label.Label.Name {
					target = true
				} else if c.Tok == token.BREAK || c.Tok == token.CONTINUE {
					if !lw.labelInside(r.Body, c.Label.Name) {
						lw.unsupportedAt(c.Pos(), "break or continue to a label outside a range-over-func loop")
						ok = false
					}
				} else if c.Tok == token.GOTO && !lw.labelInside(r.Body, c.Label.Name) {
					lw.unsupportedAt(c.Pos(), "goto out of a range-over-func loop")
					ok = false
				}
				if target {
					switch c.Tok {
					case token.CONTINUE:
						f.replace(c.Pos(), c.End(), "return true")
					case token.BREAK:
						f.replace(c.Pos(), c.End(), "return false")
					}
				}
			case *ast.ReturnStmt:
				hasReturn = true
				var b strings.Builder
				b.WriteString("{ ")
				if len(c.Results) > 0 {
					var lhs, rhs []string
					for i, e := range c.Results {
						lhs = append(lhs, retVar(i))
						rhs = append(rhs, f.node(e))
					}
					if len(c.Results) == 1 && fnType.Results().Len() > 1 {
						lhs = nil
						for i := 0; i < fnType.Results().Len(); i++ {
							lhs = append(lhs, retVar(i))
						}
					}
					b.WriteString(strings.Join(lhs, ", ") + " = " + strings.Join(rhs, ", ") + "; ")
				}
				b.WriteString(retFlag + " = true; return false }")
				f.replace(c.Pos(), c.End(), b.String())
				return false
			case *ast.DeferStmt:
				lw.unsupportedAt(c.Pos(), "defer inside a range-over-func loop runs when the loop body ends, not when the function returns")
			}
			return true
		})
	}
	walk(r.Body, 0, 0)
	if !ok {
		return
	}
	head := f.node(r.X) + "(func(" + strings.Join(params, ", ") + ") bool "
	f.replace(r.For, r.Body.Lbrace, head)
	if len(pre) > 0 {
		f.insert(r.Body.Lbrace+1, " "+strings.Join(pre, " "))
	}
	tail := "; return true })"
	if hasReturn {
		if outer == r {
			var decl strings.Builder
			decl.WriteString("var " + retFlag + " bool; ")
			var rets []string
			named := fnType.Results().Len() > 0 && fnType.Results().At(0).Name() != ""
			for i := 0; i < fnType.Results().Len(); i++ {
				ts, ok := lw.typeStr(fnType.Results().At(i).Type(), f)
				if !ok {
					lw.unsupportedAt(r.Pos(), "return from a range-over-func loop with results the lowering cannot name")
					return
				}
				decl.WriteString("var " + retVar(i) + " " + ts + "; ")
				rets = append(rets, retVar(i))
			}
			at := r.For
			if label != nil {
				at = label.Pos()
			}
			f.insert(at, decl.String())
			_ = named
			tail += "; if " + retFlag + " { return " + strings.Join(rets, ", ") + " }"
		} else {
			tail += "; if " + retFlag + " { return false }"
		}
	}
	f.replace(r.Body.Rbrace, r.Body.Rbrace+1, tail)
}

// containsReturn says whether a return statement (outside function
// literals) is in n.
func (lw *lowering) containsReturn(n ast.Node) bool {
	found := false
	ast.Inspect(n, func(c ast.Node) bool {
		switch c.(type) {
		case *ast.FuncLit:
			return false
		case *ast.ReturnStmt:
			found = true
		}
		return !found
	})
	return found
}

func (lw *lowering) labelInside(n ast.Node, name string) bool {
	found := false
	ast.Inspect(n, func(c ast.Node) bool {
		if ls, ok := c.(*ast.LabeledStmt); ok && ls.Label.Name == name {
			found = true
		}
		return !found
	})
	return found
}

// noteNames records the names the program declares or imports at package
// level, so helper imports do not collide with them.
func (lw *lowering) noteNames() {
	for _, f := range lw.files {
		for _, is := range f.ast.Imports {
			p, _ := strconv.Unquote(is.Path.Value)
			n := p[strings.LastIndexByte(p, '/')+1:]
			if is.Name != nil {
				n = is.Name.Name
			}
			lw.helpers.taken[n] = p
		}
		for _, d := range f.ast.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					lw.helpers.taken[d.Name.Name] = ""
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.ValueSpec:
						for _, n := range s.Names {
							lw.helpers.taken[n.Name] = ""
						}
					case *ast.TypeSpec:
						lw.helpers.taken[s.Name.Name] = ""
					}
				}
			}
		}
	}
}

// constDecl writes the value go/types computed into every constant of a
// declaration that uses iota (Yaegi mis-evaluates typed iota expressions).
func (lw *lowering) constDecl(f *file, d *ast.GenDecl) {
	uses := false
	ast.Inspect(d, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && id.Name == "iota" {
			uses = true
		}
		return !uses
	})
	if !uses {
		return
	}
	for _, s := range d.Specs {
		vs := s.(*ast.ValueSpec)
		var names, lits []string
		var typ string
		for _, n := range vs.Names {
			c, ok := lw.info.Defs[n].(*types.Const)
			if !ok {
				return
			}
			lit := constLiteral(c.Val(), c.Type())
			if lit == "" {
				return
			}
			if b, isBasic := c.Type().(*types.Basic); !isBasic || b.Info()&types.IsUntyped == 0 {
				ts, ok := lw.typeStr(c.Type(), f)
				if !ok {
					return
				}
				if typ != "" && typ != ts {
					return
				}
				typ = ts
			}
			names = append(names, n.Name)
			lits = append(lits, lit)
		}
		text := strings.Join(names, ", ")
		if typ != "" {
			text += " " + typ
		}
		text += " = " + strings.Join(lits, ", ")
		orig := f.src[f.off(vs.Pos()):f.off(vs.End())]
		text += strings.Repeat("\n", strings.Count(string(orig), "\n"))
		f.replace(vs.Pos(), vs.End(), text)
	}
}

const errorsIsSrc = `func %[1]s(err, target error) bool {
	if err == nil || target == nil {
		return err == target
	}
	for {
		if err == target {
			return true
		}
		if x, ok := err.(interface{ Is(error) bool }); ok && x.Is(target) {
			return true
		}
		var next error
		var list []error
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			next = u.Unwrap()
		case interface{ Unwrap() []error }:
			list = u.Unwrap()
		default:
			next, list = __wrt.Unwrap(err)
		}
		for _, e := range list {
			if e != nil && %[1]s(e, target) {
				return true
			}
		}
		if next == nil {
			return false
		}
		err = next
	}
}`

const errorsUnwrapSrc = `func %[1]s(err error) error {
	if u, ok := err.(interface{ Unwrap() error }); ok {
		return u.Unwrap()
	}
	next, _ := __wrt.Unwrap(err)
	return next
}`

// errorsHelper replaces errors.Is or errors.Unwrap by an interpreted
// version: the native ones cannot call the Is and Unwrap methods of
// interpreted types, nor compare interpreted values.
func (lw *lowering) errorsHelper(f *file, c *ast.CallExpr, name, src string) {
	hn, ok := lw.insts[name]
	if !ok {
		hn = lw.fresh(name)
		lw.insts[name] = hn
		lw.helpers.add(name, fmt.Sprintf(src, hn))
	}
	f.replace(c.Fun.Pos(), c.Fun.End(), hn)
}

// isNativeGoroutine says whether fn runs its func() argument (the last one)
// on a goroutine of its own: a panic there would otherwise end the host.
func isNativeGoroutine(fn *types.Func) bool {
	// By name first: FullName builds a string, and this runs for every call.
	switch fn.Name() {
	case "AfterFunc":
		return fn.FullName() == "time.AfterFunc"
	case "Go":
		return fn.FullName() == "(*sync.WaitGroup).Go"
	}
	return false
}

// guardCallback wraps a func() that native code runs on its own goroutine
// so that a panic in it ends the program, as a go statement's does.
func (lw *lowering) guardCallback(f *file, arg ast.Expr) {
	if sig, ok := lw.typeOf(arg).(*types.Signature); !ok || sig.Params().Len() != 0 || sig.Results().Len() != 0 {
		return
	}
	lw.helpers.add("goGuardFunc", "func __w_guardFunc(f func()) func() {\n\treturn func() {\n\t\tdefer func() { __w_goPanic(recover()) }()\n\t\tf()\n\t}\n}")
	f.insert(arg.Pos(), "__w_guardFunc(")
	f.insert(arg.End(), ")")
}
