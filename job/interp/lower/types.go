package lower

import (
	"go/ast"
	"go/token"
	"go/types"
)

type typeInfo struct {
	info *types.Info
	pkg  *types.Package
	errs []error
}

type importer struct{}

func (l *Lowerer) importer() *importer { return l.imp }

func (lw *lowering) typecheck(imp *importer, files []*ast.File) {}

func (lw *lowering) isBuiltin(id *ast.Ident) bool {
	if lw.info != nil {
		_, ok := lw.info.info.Uses[id].(*types.Builtin)
		return ok
	}
	return true
}

func (lw *lowering) call(f *file, c *ast.CallExpr)                         {}
func (lw *lowering) rangeStmt(f *file, r *ast.RangeStmt, stack []ast.Node) {}
func (lw *lowering) forStmt(f *file, r *ast.ForStmt)                       {}

var _ = token.NoPos
