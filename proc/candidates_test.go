package proc

import (
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
)

func TestGroupCandidates(t *testing.T) {
	pids := []int{1, 5, 90, 100, 150, 200, 4000}
	tests := []struct {
		name       string
		pgid, last int
		want       []int
	}{
		{"no wrap", 100, 200, []int{100, 150, 200}},
		{"leader is the last", 200, 200, []int{200}},
		{"wrapped", 150, 5, []int{1, 5, 150, 200, 4000}},
		{"unknown last", 100, -1, pids},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := groupCandidates(tt.pgid, slices.Clone(pids), tt.last); !slices.Equal(got, tt.want) {
				t.Fatalf("groupCandidates(%d, last %d) = %v, want %v", tt.pgid, tt.last, got, tt.want)
			}
		})
	}
}

// TestGroupMembersFindsRealMember checks the narrowed scan still sees a real
// process in a real group, and that lastPID reads the kernel's counter.
func TestGroupMembersFindsRealMember(t *testing.T) {
	if last := lastPID(); last != -1 && last < os.Getpid() {
		t.Skipf("the PID counter wrapped (last %d < own %d): candidates include low PIDs, nothing to check here", last, os.Getpid())
	}
	cmd := exec.Command("sleep", "30")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	if got := GroupMembers(pid, 0); !slices.Equal(got, []int{pid}) {
		t.Fatalf("GroupMembers(%d) = %v, want [%d]", pid, got, pid)
	}
	if got := GroupMembers(pid, pid); len(got) != 0 {
		t.Fatalf("GroupMembers excluding the leader = %v, want none", got)
	}
}
