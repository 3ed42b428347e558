package proc

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/warren-mesh/warren/internal/testutil"
)

const testMark = "WARREN_TEST_MARK=orphangroup"

// startGroup runs script with sh as the leader of a new process group,
// with env added to its environment, and returns the leader's pid (the
// group's ID), the pid the script prints (a background child) and the
// command.
func startGroup(t *testing.T, script string, env ...string) (int, int, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), env...)
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
	leader, child, _ := startGroup(t, "sleep 300 & echo $!; exec sleep 301", testMark)
	if got := KillOrphanedGroup(leader, testMark, syscall.SIGKILL); got != nil {
		t.Fatalf("killed %v of a group whose leader runs", got)
	}
	if !Alive(child) || !Alive(leader) {
		t.Fatal("a member of a led group died")
	}

	// A group without its leader that does not carry the mark (a pipeline
	// whose first command ended, a double-forked daemon, or a recorded
	// number reused after a reboot) is someone else's: left alone.
	leader, child, cmd := startGroup(t, "sleep 303 & echo $!")
	cmd.Wait()
	if got := KillOrphanedGroup(leader, testMark, syscall.SIGKILL); got != nil || !Alive(child) {
		t.Fatalf("killed %v of an unmarked group (child alive: %v)", got, Alive(child))
	}

	// The leader is gone (as a backend killed with its gateway), its
	// marked child stays in the group: that child is killed, and only
	// with the mark given.
	leader, child, cmd = startGroup(t, "sleep 302 & echo $!", testMark)
	cmd.Wait() // the leader exits after printing
	if !Alive(child) {
		t.Fatal("the orphan is not running")
	}
	if got := KillOrphanedGroup(leader, "", syscall.SIGKILL); got != nil {
		t.Fatalf("killed %v with no mark", got)
	}
	got := KillOrphanedGroup(leader, testMark, syscall.SIGKILL)
	if !slices.Equal(got, []int{child}) {
		t.Fatalf("killed %v, want [%d]", got, child)
	}
	testutil.Eventually(t, 5*time.Second, func() error {
		if Alive(child) {
			return errors.New("orphan still running")
		}
		return nil
	})
	if got := KillOrphanedGroup(leader, testMark, syscall.SIGKILL); got != nil {
		t.Fatalf("an empty group: killed %v", got)
	}
}
