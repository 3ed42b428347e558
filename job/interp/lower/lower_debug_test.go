package lower

import (
	"fmt"
	"os"
	"testing"

	"github.com/warren-mesh/warren/job/interp/stdlib"
)

func TestDebugLower(t *testing.T) {
	f := os.Getenv("LOWER_FILE")
	if f == "" {
		t.Skip()
	}
	b, _ := os.ReadFile(f)
	r, err := NewLowerer(stdlib.Symbols).Lower([]File{{Name: f, Src: b}})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(string(r.Files[0].Src))
	fmt.Println(string(r.Helper))
	fmt.Println(r.Unsupported)
}
