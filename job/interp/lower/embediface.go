package lower

import (
	"go/ast"
	"go/types"
	"strings"
)

// embeddedIface spells out the path to a method promoted from an
// embedded interface field: with `type S struct{ Notifier; ... }`,
// s.Notify(m) becomes s.Notifier.Notify(m). Yaegi stores the field as its
// valueInterface wrapper, and a promoted selector reaches it through
// getMethodByName (interp/run.go), which looks for a valueInterface only in
// the receiver itself or in its direct embedded fields, through no pointer,
// so it panics "invalid interface value" when S is a pointer, an embedded
// struct or holds a value of an interpreted type; an explicit field
// selector takes the plain field-then-method path that works. The
// insertion is before the method name: x is still evaluated once.
func (lw *lowering) embeddedIface(f *file, s *ast.SelectorExpr) {
	sel := lw.info.Selections[s]
	if sel == nil || sel.Kind() != types.MethodVal || len(sel.Index()) < 2 {
		return
	}
	t := sel.Recv()
	var names []string
	viaIface := false
	for _, idx := range sel.Index()[:len(sel.Index())-1] {
		if p, ok := types.Unalias(t).(*types.Pointer); ok {
			t = p.Elem()
		}
		st, ok := t.Underlying().(*types.Struct)
		if !ok || idx >= st.NumFields() {
			return
		}
		fl := st.Field(idx)
		if !fl.Exported() && fl.Pkg() != nil && fl.Pkg().Path() != "main" {
			return // a native type's unexported field: not ours to name
		}
		names = append(names, fl.Name())
		t = fl.Type()
		if types.IsInterface(t) {
			viaIface = true
			break // the method is the interface's
		}
	}
	if !viaIface {
		return
	}
	f.insert(s.Sel.Pos(), strings.Join(names, ".")+".")
}
