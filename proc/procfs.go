package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Stat is the part of /proc/PID/stat that proc uses.
type Stat struct {
	PID   int
	State byte // R, S, D, Z, T, ...
	PPID  int
	PGID  int
	SID   int
}

// ReadStat reads /proc/PID/stat. A missing process returns an error that
// satisfies errors.Is(err, os.ErrNotExist).
func ReadStat(pid int) (Stat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Stat{}, err
	}
	return parseStat(b)
}

// parseStat parses "pid (comm) S ppid pgrp session ...". comm may hold
// spaces and parentheses, so the fields start after the last ')'.
func parseStat(b []byte) (Stat, error) {
	i := bytes.IndexByte(b, '(')
	j := bytes.LastIndexByte(b, ')')
	if i < 1 || j < i {
		return Stat{}, errors.New("proc: malformed stat")
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:i])))
	if err != nil {
		return Stat{}, fmt.Errorf("proc: malformed stat pid: %w", err)
	}
	f := strings.Fields(string(b[j+1:]))
	if len(f) < 4 || len(f[0]) != 1 {
		return Stat{}, errors.New("proc: malformed stat fields")
	}
	s := Stat{PID: pid, State: f[0][0]}
	if s.PPID, err = strconv.Atoi(f[1]); err != nil {
		return Stat{}, fmt.Errorf("proc: malformed stat ppid: %w", err)
	}
	if s.PGID, err = strconv.Atoi(f[2]); err != nil {
		return Stat{}, fmt.Errorf("proc: malformed stat pgrp: %w", err)
	}
	if s.SID, err = strconv.Atoi(f[3]); err != nil {
		return Stat{}, fmt.Errorf("proc: malformed stat session: %w", err)
	}
	return s, nil
}

// allPIDs lists the numeric entries of /proc.
func allPIDs() ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	pids := make([]int, 0, len(ents))
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// GroupMembers returns the live (not zombie) processes whose process group
// is pgid, excluding the pid except. It reads /proc, but only the entries
// that can be members of a group led by pgid (see groupCandidates), so the
// common check after a short-lived child exits costs a directory read and a
// handful of stat files rather than one per process on the machine.
func GroupMembers(pgid, except int) []int {
	pids, err := allPIDs()
	if err != nil {
		return nil
	}
	var out []int
	for _, pid := range groupCandidates(pgid, pids, lastPID()) {
		if pid == except {
			continue
		}
		st, err := ReadStat(pid)
		if err != nil || st.PGID != pgid || st.State == 'Z' || st.State == 'X' {
			continue
		}
		out = append(out, pid)
	}
	return out
}

// groupCandidates narrows pids to those allocated since pgid: the members of
// a group are its leader (pid pgid) and processes created after it, and the
// kernel hands out PIDs in increasing order until the counter wraps. last is
// the most recently allocated PID, or -1 when unknown (then every pid is a
// candidate). If last < pgid the counter wrapped after the leader started,
// so the low PIDs up to last are candidates too.
func groupCandidates(pgid int, pids []int, last int) []int {
	if last < 0 {
		return pids
	}
	var out []int
	for _, pid := range pids {
		var ok bool
		if last >= pgid {
			ok = pid >= pgid && pid <= last
		} else {
			ok = pid >= pgid || pid <= last // the counter wrapped since the leader started
		}
		if ok {
			out = append(out, pid)
		}
	}
	return out
}

// lastPID reads the PID most recently allocated in this PID namespace, or
// returns -1 when the kernel does not say.
func lastPID() int {
	b, err := os.ReadFile("/proc/sys/kernel/ns_last_pid")
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return -1
	}
	return n
}

// Alive reports whether pid names a process that is not a zombie.
func Alive(pid int) bool {
	st, err := ReadStat(pid)
	return err == nil && st.State != 'Z' && st.State != 'X'
}

// childPIDs lists the children of this process. It reads the
// /proc/self/task/*/children files (every thread, because an orphan is
// re-parented to whichever thread the kernel picks) and falls back to a scan
// of /proc where those files are missing.
func childPIDs() ([]int, error) {
	self := os.Getpid()
	files, _ := filepath.Glob("/proc/self/task/*/children")
	if len(files) > 0 {
		seen := map[int]bool{}
		var out []int
		ok := false
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			ok = true
			for _, w := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(w); err == nil && !seen[pid] {
					seen[pid] = true
					out = append(out, pid)
				}
			}
		}
		if ok {
			return out, nil
		}
	}
	pids, err := allPIDs()
	if err != nil {
		return nil, err
	}
	var out []int
	for _, pid := range pids {
		if st, err := ReadStat(pid); err == nil && st.PPID == self {
			out = append(out, pid)
		}
	}
	return out, nil
}

// othersWhere returns the live processes (zombies excluded), other than
// this one, whose stat matches keep.
func othersWhere(keep func(Stat) bool) []Stat {
	pids, err := allPIDs()
	if err != nil {
		return nil
	}
	var out []Stat
	for _, pid := range pids {
		st, err := ReadStat(pid)
		if err != nil || st.State == 'Z' || pid == os.Getpid() || !keep(st) {
			continue
		}
		out = append(out, st)
	}
	return out
}

// killAll sends sig to each process and returns those it reached.
func killAll(sts []Stat, sig syscall.Signal) []int {
	var out []int
	for _, st := range sts {
		if syscall.Kill(st.PID, sig) == nil {
			out = append(out, st.PID)
		}
	}
	return out
}

// KillSession sends sig to every live process in session sid and returns
// their pids. A session ID stays allocated while any member lives, so this
// never hits an unrelated process: use it to clear what a dead session
// leader (a group host killed with SIGKILL) left behind, including
// grandchildren that left their process group.
func KillSession(sid int, sig syscall.Signal) []int {
	if sid <= 1 {
		return nil
	}
	return killAll(othersWhere(func(st Stat) bool { return st.SID == sid }), sig)
}

// KillOrphanedGroup sends sig to every live member of process group pgid
// whose leader is gone, and returns their pids; a group whose leader
// (pid == pgid) still runs is left alone. It clears what a killed parent
// left behind when it recorded its children's groups (each child a group
// leader, killed with it by Pdeathsig): the children of a wrapper script
// stay in the group, and a process group ID stays allocated while any
// member lives. A group that emptied may have its ID reused by an
// unrelated process as leader of a new group: such a group has its leader,
// and is skipped.
//
// A group without its leader is common (a pipeline whose first command
// ended, a double-forked daemon), and after a reboot or a pid's reuse a
// recorded number may name someone else's: so only members whose
// environment holds mark ("NAME=value", set by the parent on its
// children and inherited by theirs) are killed; an empty mark kills none.
func KillOrphanedGroup(pgid int, mark string, sig syscall.Signal) []int {
	if pgid <= 1 || mark == "" {
		return nil
	}
	members := othersWhere(func(st Stat) bool { return st.PGID == pgid })
	for _, st := range members {
		if st.PID == pgid {
			return nil // its leader runs: not an orphaned group
		}
	}
	marked := members[:0]
	for _, st := range members {
		if hasEnv(st.PID, mark) {
			marked = append(marked, st)
		}
	}
	return killAll(marked, sig)
}

// hasEnv reports whether process pid's environment (as it was at exec)
// holds the entry kv exactly; false when it cannot be read.
func hasEnv(pid int, kv string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	for _, e := range bytes.Split(b, []byte{0}) {
		if string(e) == kv {
			return true
		}
	}
	return false
}
