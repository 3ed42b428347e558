package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// EnvWorkDir names the environment variable that selects a work dir when no
// --workdir flag is given.
const EnvWorkDir = "WARREN_WORKDIR"

// Paths inside a work dir. They are fixed so that the CLI, the daemon and the
// group processes agree without configuration.
const (
	lockFile   = "daemon.lock"
	nodeIDFile = "node-id"
	sockDir    = "sock"
	logDir     = "logs"
	daemonLog  = "daemon.log"
)

// ResolveWorkDir decides which work dir a command uses: the flag value if
// set, else $WARREN_WORKDIR, else the per-user default
// ($XDG_STATE_HOME/warren, or ~/.local/state/warren). The result is absolute
// and cleaned; the directory is not created.
func ResolveWorkDir(flag string) (string, error) {
	dir := flag
	if dir == "" {
		dir = os.Getenv(EnvWorkDir)
	}
	if dir == "" {
		var err error
		if dir, err = DefaultWorkDir(); err != nil {
			return "", err
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("workdir: %w", err)
	}
	return abs, nil
}

// DefaultWorkDir is the per-user work dir: $XDG_STATE_HOME/warren, or
// ~/.local/state/warren when XDG_STATE_HOME is unset (as the XDG base
// directory specification says).
func DefaultWorkDir() (string, error) {
	if x := os.Getenv("XDG_STATE_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "warren"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return "", errors.New("workdir: neither --workdir, $WARREN_WORKDIR, $XDG_STATE_HOME nor $HOME is set")
	}
	return filepath.Join(home, ".local", "state", "warren"), nil
}

// SocketDir is where the daemon (and the jobs it runs) publish their OS-scope
// services for the work dir: a private directory, so daemons in different work
// dirs run side by side and only the owner can reach them.
func SocketDir(workDir string) string { return filepath.Join(workDir, sockDir) }

// LogDir is where the daemon's and the jobs' log files live.
func LogDir(workDir string) string { return filepath.Join(workDir, logDir) }

// DaemonLogPath is the daemon's own log file (what `warren log daemon` reads).
func DaemonLogPath(workDir string) string { return filepath.Join(workDir, logDir, daemonLog) }

// ensureDir creates dir with mode perm if it is missing and tightens the mode
// of an existing one, so a work dir created by hand is not left world-readable.
func ensureDir(dir string, perm os.FileMode) error {
	if err := os.MkdirAll(dir, perm); err != nil {
		return err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if fi.Mode().Perm() != perm {
		return os.Chmod(dir, perm)
	}
	return nil
}
