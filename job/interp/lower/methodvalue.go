package lower

import (
	"go/ast"
	"go/types"
)

// methodValue makes a method value with a value receiver copy its
// receiver where it is evaluated, as Go does. Yaegi binds the receiver's
// variable instead and reads it only when the method value is called
// (interp/run.go: getMethod keeps the receiver node in nod.recv, which
// genFuncValue evaluates at call time; getIndexSeqMethod, for native
// types, takes reflect's Method of the addressable variable), so in
// `f := c.Get; c.n = 2; f()` the call sees the later c. The receiver is
// passed to a function literal that returns the method value of its own
// copy: x.M becomes func(r T) func(...) ... { return r.M }(x), with x
// dereferenced when it is a pointer. One evaluation of x, at the same
// place; a nil pointer panics there as in Go.
func (lw *lowering) methodValue(f *file, s *ast.SelectorExpr, stack []ast.Node) {
	sel := lw.info.Selections[s]
	if sel == nil || sel.Kind() != types.MethodVal {
		return
	}
	if calledAs(s, stack) {
		return // a call: the receiver is read at once
	}
	fn, ok := sel.Obj().(*types.Func)
	if !ok {
		return
	}
	recv := fn.Type().(*types.Signature).Recv()
	if recv == nil || types.IsInterface(recv.Type()) {
		return
	}
	if ptrRecv(fn) {
		return // binds &x: later changes are meant to show
	}
	xt := lw.typeOf(s.X)
	if xt == nil {
		return
	}
	deref := false
	if p, ok := types.Unalias(xt).(*types.Pointer); ok {
		xt, deref = p.Elem(), true
	}
	if types.IsInterface(xt) {
		return
	}
	if _, _, indirect := types.LookupFieldOrMethod(xt, false, fn.Pkg(), fn.Name()); indirect {
		return // promoted through an embedded pointer: copying x would not copy the receiver
	}
	ts, ok1 := lw.typeStr(xt, f)
	sig, ok2 := lw.typeStr(lw.typeOf(s), f)
	if !ok1 || !ok2 {
		return
	}
	x := f.node(s.X)
	if deref {
		x = "*" + x
	}
	r := lw.fresh("mr")
	f.replace(s.Pos(), s.End(), "func("+r+" "+ts+") "+sig+" { return "+r+"."+s.Sel.Name+" }("+x+")")
}

// calledAs reports whether e is the function of the call expression that
// encloses it (through parentheses); stack holds e's ancestors.
func calledAs(e ast.Expr, stack []ast.Node) bool {
	var inner ast.Node = e
	for i := len(stack) - 1; i >= 0; i-- {
		switch p := stack[i].(type) {
		case *ast.ParenExpr:
			inner = p
			continue
		case *ast.CallExpr:
			return p.Fun == inner
		}
		return false
	}
	return false
}
