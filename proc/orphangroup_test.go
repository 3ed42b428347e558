package proc

import (
	"bufio"
	"errors"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/warren-mesh/warren/internal/testutil"
)

// startGroup runs script with sh as the leader of a new process group and
// returns the leader's pid (the group's ID), the pid the script prints
// (a background child) and the command.
func startGroup(t *testing.T, script string) (int, int, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() })
	return cmd.Process.Pid, child, cmd
}

func TestKillOrphanedGroup(t *testing.T) {
	// The leader runs: the group is someone's, not a leftover.
	leader, child, _ := startGroup(t, "sleep 300 & echo $!; exec sleep 301")
	if got := KillOrphanedGroup(leader, syscall.SIGKILL); got != nil {
		t.Fatalf("killed %v of a group whose leader runs", got)
	}
	if !Alive(child) || !Alive(leader) {
		t.Fatal("a member of a led group died")
	}

	// The leader is gone (as a backend killed with its gateway), its
	// child stays in the group: that child is killed.
	leader, child, cmd := startGroup(t, "sleep 302 & echo $!")
	cmd.Wait() // the leader exits after printing
	if !Alive(child) {
		t.Fatal("the orphan is not running")
	}
	got := KillOrphanedGroup(leader, syscall.SIGKILL)
	if !slices.Equal(got, []int{child}) {
		t.Fatalf("killed %v, want [%d]", got, child)
	}
	testutil.Eventually(t, 5*time.Second, func() error {
		if Alive(child) {
			return errors.New("orphan still running")
		}
		return nil
	})
	if got := KillOrphanedGroup(leader, syscall.SIGKILL); got != nil {
		t.Fatalf("an empty group: killed %v", got)
	}
}
