package admin

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

func TestRunningRecord(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "gateway.json")
	if _, ok := ReadRunning(cfg); ok {
		t.Fatal("a record before any was written")
	}
	if err := WriteRunning(cfg, Running{Listen: "127.0.0.1:9801", Groups: []int{7, 9}}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(RunningPath(cfg))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("record %v %v, want mode 0600", fi, err)
	}
	if r, ok := ReadRunning(cfg); !ok || r.Listen != "127.0.0.1:9801" || r.PID != os.Getpid() {
		t.Fatalf("read back %+v %v", r, ok)
	}
	if g, _ := TakeLeftovers(cfg); g != nil {
		t.Fatalf("leftovers %v of a gateway that runs", g)
	}
	// A record whose writer is gone (a killed gateway) does not count for
	// clients, and gives its groups, once, to the next start.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(Running{PID: dead.Process.Pid, Listen: "127.0.0.1:1", Groups: []int{41, 42}, Mark: "M=1"})
	if err := os.WriteFile(RunningPath(cfg), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if r, ok := ReadRunning(cfg); ok {
		t.Fatalf("a dead gateway's record counted: %+v", r)
	}
	if g, mark := TakeLeftovers(cfg); !slices.Equal(g, []int{41, 42}) || mark != "M=1" {
		t.Fatalf("leftovers %v %q, want [41 42] M=1", g, mark)
	}
	if g, _ := TakeLeftovers(cfg); g != nil {
		t.Fatalf("leftovers taken twice: %v", g)
	}
	if err := os.WriteFile(RunningPath(cfg), data, 0o600); err != nil {
		t.Fatal(err)
	}
	// A record others could have written (group or world access) is not
	// trusted: it would send the token elsewhere and name groups to kill.
	if err := os.Chmod(RunningPath(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteRunning(cfg, Running{Listen: "127.0.0.1:9801"}); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(RunningPath(cfg), 0o640); err != nil {
		t.Fatal(err)
	}
	if r, ok := ReadRunning(cfg); ok {
		t.Fatalf("a group-readable record counted: %+v", r)
	}
	if err := os.WriteFile(RunningPath(cfg), data, 0o600); err != nil {
		t.Fatal(err)
	}
	// RemoveRunning leaves another process's record alone, and removes its own.
	RemoveRunning(cfg)
	if _, err := os.Stat(RunningPath(cfg)); err != nil {
		t.Fatalf("another process's record removed: %v", err)
	}
	if err := WriteRunning(cfg, Running{Listen: "unix:/run/x.sock"}); err != nil {
		t.Fatal(err)
	}
	RemoveRunning(cfg)
	if _, err := os.Stat(RunningPath(cfg)); !os.IsNotExist(err) {
		t.Fatalf("own record left: %v", err)
	}
}
