package job

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// writeFileAtomic writes data to path so that a crash leaves either the old
// or the new content: temp file in the same directory, fsync, rename, fsync
// of the directory.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Chmod(perm); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("write %s: sync dir: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("write %s: sync dir: %w", path, err)
	}
	return nil
}

// stateFile is what the Manager persists: group definitions with the pid
// of their host process (to re-adopt it), and every job's definition, the
// state it should be in, and its last known status.
type stateFile struct {
	Version int          `json:"version"`
	Groups  []groupState `json:"groups"`
	Jobs    []jobState   `json:"jobs"`
}

type groupState struct {
	Name     string    `json:"name"`
	RTPrio   int       `json:"rt_prio,omitempty"`
	MaxProcs int       `json:"max_procs,omitempty"`
	PID      int       `json:"pid,omitempty"`
	Started  time.Time `json:"started,omitzero"`
}

type jobState struct {
	Status Status `json:"status"`
	// Want is "running" or "stopped": what the job should be doing when
	// its group (re)starts.
	Want string `json:"want"`
}

const stateVersion = 1

func loadState(path string) (stateFile, error) {
	var st stateFile
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return stateFile{Version: stateVersion}, nil
	}
	if err != nil {
		return st, fmt.Errorf("load state: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("load state %s: %w", path, err)
	}
	if st.Version != stateVersion {
		return st, fmt.Errorf("load state %s: version %d, want %d", path, st.Version, stateVersion)
	}
	return st, nil
}

func saveState(path string, st stateFile) error {
	st.Version = stateVersion
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return writeFileAtomic(path, b, 0o600)
}
