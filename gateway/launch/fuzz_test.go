package launch

import (
	"errors"
	"strings"
	"testing"

	"github.com/warren-mesh/warren/gateway/config"
)

// FuzzParse: a launch URL comes from any web page. Parse never panics,
// fails only with ErrBadURL, and what it accepts is a valid port (or none)
// and a conf without NUL.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"warren://launch", "warren://launch?port=8080&conf=a.json", "warren://launch?conf=../../etc/passwd", "warren:launch", "warren://launch?port=1&port=2", "%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r, err := Parse(raw)
		if err != nil {
			if !errors.Is(err, ErrBadURL) {
				t.Fatalf("error not ErrBadURL: %v", err)
			}
			return
		}
		if r.Port != "" {
			if _, err := config.ParsePort(r.Port); err != nil {
				t.Fatalf("accepted port %q", r.Port)
			}
		}
		if strings.ContainsRune(r.Conf, 0) {
			t.Fatalf("accepted conf with NUL: %q", r.Conf)
		}
	})
}
