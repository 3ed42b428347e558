package lower

import (
	"go/ast"
	"go/token"
)

// multiAssign works around Yaegi skipping most of a multi-value
// assignment. Its compiler (cfg.go, assignStmt) has per-value shortcuts
// that let a call, a receive or a composite literal write its result
// straight into its destination and then turn the whole statement into a
// no-op, so in `i, s = 8, str()`, `a, b := x, []int{2}` or
// `v, w := 1, <-ch` every other value is never assigned. A parenthesised
// expression takes none of the shortcuts, so such values are wrapped in
// parentheses: same evaluation, same order, no cost. An untyped nil among
// several values panics the same compiler (reflect.New of no type), so it
// becomes a conversion to its destination's type: err = error(nil).
func (lw *lowering) multiAssign(f *file, lhs []ast.Expr, rhs []ast.Expr) {
	if len(rhs) < 2 {
		return
	}
	for i, e := range rhs {
		if tv, ok := lw.info.Types[e]; ok && tv.IsNil() {
			if t, ok := lw.typeStr(lw.typeOf(lhs[i]), f); ok {
				f.replace(e.Pos(), e.End(), "("+t+")(nil)")
			}
			continue
		}
		switch x := e.(type) {
		case *ast.CallExpr, *ast.CompositeLit:
		case *ast.UnaryExpr:
			if x.Op != token.ARROW {
				continue
			}
		default:
			continue
		}
		f.insert(e.Pos(), "(")
		f.insert(e.End(), ")")
	}
}

// multiAssignStmt and multiAssignSpec pick the statements multiAssign
// concerns: as many values as names (Yaegi compiles a var declaration as
// a definition).
func (lw *lowering) multiAssignStmt(f *file, s *ast.AssignStmt) {
	if (s.Tok == token.DEFINE || s.Tok == token.ASSIGN) && len(s.Lhs) == len(s.Rhs) {
		lw.multiAssign(f, s.Lhs, s.Rhs)
	}
}

func (lw *lowering) multiAssignSpec(f *file, s *ast.ValueSpec) {
	if len(s.Names) == len(s.Values) {
		lhs := make([]ast.Expr, len(s.Names))
		for i, n := range s.Names {
			lhs[i] = n
		}
		lw.multiAssign(f, lhs, s.Values)
	}
}
