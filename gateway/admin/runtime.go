package admin

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Running is what a running gateway records beside its config file: where
// its admin API listens and its pid. Clients find the API through the
// config file, but the API stays where it was started when the file's
// admin address is edited (it moves at the next start), so a client that
// read only the file would knock on the new address and find nobody.
//
// It also lists the process groups of the backends running, so that the
// next gateway started with the file can clear what a killed one left
// (LeftoverGroups).
type Running struct {
	PID    int    `json:"pid"`
	Listen string `json:"listen,omitempty"` // as config.AdminListen: "127.0.0.1:9800" or "unix:/path"; "" before the API is up
	Groups []int  `json:"groups,omitempty"` // process groups of the backends running
	Mark   string `json:"mark,omitempty"`   // "NAME=value" in every backend's environment
}

// RunningPath is the record's path for a config file: a hidden file beside
// it, ".gateway.json.running" for "gateway.json".
func RunningPath(configPath string) string {
	return filepath.Join(filepath.Dir(configPath), "."+filepath.Base(configPath)+".running")
}

// WriteRunning records r, with this process's pid, for configPath,
// atomically (a reader never sees half a record) and readable by the
// owner only. Not config.WriteFileAtomic: it is written on a backend's
// cold start, where that one's fsyncs would cost milliseconds, and the
// record matters only while this boot's processes live.
func WriteRunning(configPath string, r Running) error {
	r.PID = os.Getpid()
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	p := RunningPath(configPath)
	tmp, err := os.CreateTemp(filepath.Dir(p), filepath.Base(p)+".tmp*")
	if err != nil {
		return fmt.Errorf("admin: record address: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("admin: record address: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("admin: record address: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("admin: record address: %w", err)
	}
	return nil
}

// RemoveRunning removes this process's record for configPath (not one a
// later gateway wrote over it).
func RemoveRunning(configPath string) {
	if r, ok := readRunning(configPath); ok && r.PID == os.Getpid() {
		os.Remove(RunningPath(configPath))
	}
}

// ReadRunning returns the record for configPath if the process that wrote
// it still runs and its API is up; a record left by a killed gateway does
// not count.
func ReadRunning(configPath string) (Running, bool) {
	r, ok := readRunning(configPath)
	if !ok || r.Listen == "" || !alive(r.PID) {
		return Running{}, false
	}
	return r, true
}

// TakeLeftovers returns the process groups a gateway that died without
// stopping (killed) recorded for configPath, its backends' groups, where
// the children of wrapper scripts may still run, with the mark its
// backends carry in their environment, and removes its record. None
// while the writer runs.
func TakeLeftovers(configPath string) (groups []int, mark string) {
	r, ok := readRunning(configPath)
	if !ok || alive(r.PID) {
		return nil, ""
	}
	os.Remove(RunningPath(configPath))
	return r.Groups, r.Mark
}

func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	// EPERM is another user's process: the pid was reused, since the
	// record is this user's (readRunning).
	return syscall.Kill(pid, 0) == nil
}

func readRunning(configPath string) (Running, bool) {
	// Only a record this user wrote counts: the address gets the admin
	// token, the groups get SIGKILL, and a config in a directory others
	// can write to (a sticky /tmp) must not let them plant one.
	p := RunningPath(configPath)
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 != 0 {
		return Running{}, false
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Getuid() {
		return Running{}, false
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return Running{}, false
	}
	var r Running
	if json.Unmarshal(data, &r) != nil || r.PID <= 0 {
		return Running{}, false
	}
	return r, true
}
