package daemon

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrAlreadyRunning is matched (errors.Is) by the error Start returns when
// another daemon holds the work dir.
var ErrAlreadyRunning = errors.New("daemon already running")

// AlreadyRunningError names the daemon that holds a work dir.
type AlreadyRunningError struct {
	WorkDir string
	PID     int // 0 if the holder had not written its PID yet
}

func (e *AlreadyRunningError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("a warren daemon is already running for work dir %s (pid %d)", e.WorkDir, e.PID)
	}
	return fmt.Sprintf("a warren daemon is already running for work dir %s", e.WorkDir)
}

func (e *AlreadyRunningError) Is(target error) bool { return target == ErrAlreadyRunning }

// instanceLock is the single-instance lock of a work dir: an flock(2) on
// WORKDIR/daemon.lock holding the owner's PID. The kernel drops an flock when
// its holder dies, however it dies, so a SIGKILLed daemon never blocks the
// next start; the file itself is never removed (removing it would let two
// daemons lock two different inodes).
type instanceLock struct {
	f *os.File
}

func acquireLock(workDir string) (*instanceLock, error) {
	p := workDir + "/" + lockFile
	// os.OpenFile sets O_CLOEXEC: group processes started by the daemon
	// must not inherit the lock, or they would keep it after a daemon crash.
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, &AlreadyRunningError{WorkDir: workDir, PID: readPID(f)}
		}
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt(pid, 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock: write pid: %w", err)
	}
	return &instanceLock{f: f}, nil
}

// readPID reads the PID a lock holder wrote. A holder that has just locked
// may not have written it yet; a short file reads as 0.
func readPID(f *os.File) int {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil {
		return 0
	}
	return pid
}

// ReadLockPID returns the PID recorded in workDir's lock file and whether a
// live daemon holds the lock right now (tested with a non-blocking shared
// lock that is released at once).
func ReadLockPID(workDir string) (pid int, held bool, err error) {
	f, err := os.Open(workDir + "/" + lockFile)
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	pid = readPID(f)
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return pid, true, nil
	}
	_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return pid, false, nil
}

func (l *instanceLock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	err := l.f.Close() // closing the last descriptor drops the flock
	l.f = nil
	return err
}
