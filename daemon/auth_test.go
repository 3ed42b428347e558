package daemon

import (
	"os"
	"slices"
	"testing"
)

func TestAuthorizer(t *testing.T) {
	self := uint32(os.Getuid())
	other := self + 4242
	a := authorizer{uid: int(self), gid: -1}
	withGroup := authorizer{uid: int(self), gid: 777}
	tests := []struct {
		name string
		a    authorizer
		p    Peer
		want bool
	}{
		{"own user", a, Peer{UID: self, GID: 1}, true},
		{"root", a, Peer{UID: 0, GID: 0}, true},
		{"stranger", a, Peer{UID: other, GID: other}, false},
		{"stranger in control group (primary)", withGroup, Peer{UID: other, GID: 777}, true},
		{"stranger outside control group", withGroup, Peer{UID: other, GID: 778, PID: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.allow(tt.p); got != tt.want {
				t.Fatalf("allow(%+v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func TestProcGroups(t *testing.T) {
	want, err := os.Getgroups()
	if err != nil {
		t.Skip(err)
	}
	got := procGroups(os.Getpid())
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("procGroups = %v, os.Getgroups = %v", got, want)
	}
	if len(want) > 0 {
		// A supplementary group of this process admits it as a stranger.
		a := authorizer{uid: os.Getuid() + 1, gid: want[0]}
		if !a.allow(Peer{UID: uint32(os.Getuid() + 1), GID: 99999, PID: int32(os.Getpid())}) {
			t.Fatal("supplementary group not honoured")
		}
	}
	if procGroups(0) != nil {
		t.Fatal("pid 0 has groups")
	}
}

func TestNewAuthorizer(t *testing.T) {
	if a, err := newAuthorizer(""); err != nil || a.gid != -1 {
		t.Fatalf("%+v %v", a, err)
	}
	if a, err := newAuthorizer("0"); err != nil || a.gid != 0 {
		t.Fatalf("numeric gid: %+v %v", a, err)
	}
	if _, err := newAuthorizer("no-such-group-warren"); err == nil {
		t.Fatal("unknown group accepted")
	}
}
