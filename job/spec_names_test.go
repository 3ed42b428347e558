package job

import (
	"regexp"
	"strings"
	"testing"
)

// The hand-written checks accept exactly what the documented patterns do.
func TestNameAndIDChecksMatchPatterns(t *testing.T) {
	nameRE := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	idRE := regexp.MustCompile(`^[0-9a-f]{8,32}$`)
	cases := []string{"", "a", "A9", "g-1", "g_1.x", "-g", ".g", "_g", "g/1", "g 1", "é", "0123abcd", "0123ABCD",
		"0123abc", strings.Repeat("a", 32), strings.Repeat("a", 33), strings.Repeat("b", 64), strings.Repeat("b", 65), "g\n"}
	for _, c := range cases {
		if got, want := ValidGroupName(c), nameRE.MatchString(c); got != want {
			t.Errorf("ValidGroupName(%q) = %v, pattern says %v", c, got, want)
		}
		if got, want := validID(c), idRE.MatchString(c); got != want {
			t.Errorf("validID(%q) = %v, pattern says %v", c, got, want)
		}
	}
}
