package lower_test

import (
	"testing"

	"github.com/warren-mesh/warren/job/interp/lower"
)

// go build refuses an unused import written with a name as well:
// `"fmt" imported as f and not used`.
func TestReviewUnusedNamedImport(t *testing.T) {
	src := "package main\n\nimport f \"fmt\"\n\nfunc main() {}\n"
	if _, err := lw.Lower([]lower.File{{Name: "/p/named.go", Src: []byte(src)}}); err == nil {
		t.Error("no error for an unused named import (go build: \"fmt\" imported as f and not used)")
	}
}
