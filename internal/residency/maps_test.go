package residency

import "testing"

func TestParseMaps(t *testing.T) {
	in := []byte(`00400000-011ac000 r-xp 00000000 fe:00 123                                /usr/bin/warren
011ac000-01f3f000 r--p 00dac000 fe:00 123                                /opt/my apps/warren (deleted)
1a96b9c00000-1a96ba000000 rw-p 00000000 00:00 0 
7ffd55158000-7ffd55179000 rw-p 00000000 00:00 0                          [stack]
garbage
`)
	got := parseMaps(in)
	want := []mapEntry{
		{start: 0x400000, end: 0x11ac000, readable: true, file: true, path: "/usr/bin/warren"},
		{start: 0x11ac000, end: 0x1f3f000, readable: true, file: true, path: "/opt/my apps/warren (deleted)"},
		{start: 0x1a96b9c00000, end: 0x1a96ba000000, readable: true, writable: true},
		{start: 0x7ffd55158000, end: 0x7ffd55179000, readable: true, writable: true, file: true, path: "[stack]"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}
