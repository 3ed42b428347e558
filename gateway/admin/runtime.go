package admin

import (
	"encoding/json"
	"errors"
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
type Running struct {
	PID    int    `json:"pid"`
	Listen string `json:"listen"` // as config.AdminListen: "127.0.0.1:9800" or "unix:/path"
}

// RunningPath is the record's path for a config file: a hidden file beside
// it, ".gateway.json.running" for "gateway.json".
func RunningPath(configPath string) string {
	return filepath.Join(filepath.Dir(configPath), "."+filepath.Base(configPath)+".running")
}

// WriteRunning records this process's admin address for configPath,
// atomically (a reader never sees half a record) and readable by the
// owner only.
func WriteRunning(configPath, listen string) error {
	data, err := json.Marshal(Running{PID: os.Getpid(), Listen: listen})
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
// it still runs; a record left by a killed gateway does not count.
func ReadRunning(configPath string) (Running, bool) {
	r, ok := readRunning(configPath)
	if !ok || r.PID <= 0 {
		return Running{}, false
	}
	if err := syscall.Kill(r.PID, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return Running{}, false
	}
	return r, true
}

func readRunning(configPath string) (Running, bool) {
	data, err := os.ReadFile(RunningPath(configPath))
	if err != nil {
		return Running{}, false
	}
	var r Running
	if json.Unmarshal(data, &r) != nil || r.Listen == "" {
		return Running{}, false
	}
	return r, true
}
