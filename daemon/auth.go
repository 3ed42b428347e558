package daemon

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/user"
	"strconv"
)

// Peer is who called the daemon, from the socket's peer credentials
// (SO_PEERCRED): the kernel vouches for it, the caller cannot forge it.
type Peer struct {
	UID, GID uint32
	PID      int32
}

// authorizer decides who may control the daemon: its own user, root, and
// members (primary or supplementary) of one optional Unix group.
type authorizer struct {
	uid int // the daemon's user
	gid int // the control group's gid, or -1
}

func newAuthorizer(controlGroup string) (authorizer, error) {
	a := authorizer{uid: os.Getuid(), gid: -1}
	if controlGroup == "" {
		return a, nil
	}
	g, err := user.LookupGroup(controlGroup)
	if err != nil {
		if gid, perr := strconv.Atoi(controlGroup); perr == nil && gid >= 0 {
			a.gid = gid
			return a, nil
		}
		return a, fmt.Errorf("control group: %w", err)
	}
	a.gid, err = strconv.Atoi(g.Gid)
	if err != nil {
		return a, fmt.Errorf("control group %s: bad gid %q", controlGroup, g.Gid)
	}
	return a, nil
}

// share hands dir to the control group with mode perm (for the paths its
// members need to reach the daemon's socket); without one it does nothing.
func (a authorizer) share(dir string, perm os.FileMode) error {
	if a.gid < 0 {
		return nil
	}
	if err := os.Lchown(dir, -1, a.gid); err != nil {
		return fmt.Errorf("give %s to the control group (gid %d): %w", dir, a.gid, err)
	}
	return os.Chmod(dir, perm)
}

// allow returns nil if p may control the daemon.
func (a authorizer) allow(p Peer) bool {
	if p.UID == 0 || int(p.UID) == a.uid {
		return true
	}
	if a.gid < 0 {
		return false
	}
	if int(p.GID) == a.gid {
		return true
	}
	// Supplementary groups of the calling process, as the kernel has them
	// now (not as /etc/group says they would be at the next login).
	for _, g := range procGroups(int(p.PID)) {
		if g == a.gid {
			return true
		}
	}
	return false
}

// procGroups reads the supplementary groups of pid from /proc/PID/status.
func procGroups(pid int) []int {
	if pid <= 0 {
		return nil
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte("Groups:")) {
			continue
		}
		var out []int
		for _, f := range bytes.Fields(line[len("Groups:"):]) {
			if g, err := strconv.Atoi(string(f)); err == nil {
				out = append(out, g)
			}
		}
		return out
	}
	return nil
}
