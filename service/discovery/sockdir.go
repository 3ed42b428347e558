package discovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// SocketDir is the OS scope's registry: a directory (mode 0700) holding, per
// service, DIR/PUBLISHER/SERVICE.sock (the unix socket, mode 0600) and
// DIR/PUBLISHER/SERVICE.lock, a lock file the provider holds with flock(2)
// for as long as it lives. With Group set, the directory, the publisher
// directory and the lock file it registers are shared with that Unix group
// (0750, 0750, 0640) so its members can find the service; the socket's own
// mode is the transport's (transport.Unix.Group). EnsureDir keeps the directory's
// group access only when it was given to a group on purpose (see there).
//
// The kernel drops a flock when its holder dies, however it dies, so a
// crashed provider never blocks the next one: Register takes the lock,
// removes the stale socket and hands out its path. The lock file holds the
// provider's record in JSON so that a refused Register can name the holder
// and List can show provider IDs.
type SocketDir struct {
	Dir   string
	Group int // > 0: share what Register creates with this gid
}

// NewSocketDir returns the registry rooted at dir.
func NewSocketDir(dir string) *SocketDir { return &SocketDir{Dir: dir} }

// DefaultSocketDir is $XDG_RUNTIME_DIR/warren, else /tmp/warren-$UID.
func DefaultSocketDir() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "warren")
	}
	return filepath.Join(os.TempDir(), "warren-"+strconv.Itoa(os.Getuid()))
}

// EnsureDir creates dir with mode 0700 if needed and checks that it is a
// directory owned by the current user that nobody else may enter, except
// a group it was handed to on purpose: group access stays when the
// directory's group is not the user's own primary group (a plain mkdir
// leaves that one, with umask's group bits, which are taken away), as
// `warren daemon --control-group` does.
func EnsureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("discovery: socket dir: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fmt.Errorf("discovery: socket dir: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("discovery: socket dir %s: not a directory", dir)
	}
	if int(st.Uid) != os.Getuid() {
		return fmt.Errorf("discovery: socket dir %s: owned by uid %d, not %d", dir, st.Uid, os.Getuid())
	}
	want := st.Mode & 0o770
	if int(st.Gid) == os.Getgid() {
		want &= 0o700
	}
	if st.Mode&0o777 != want {
		if err := os.Chmod(dir, os.FileMode(want)); err != nil {
			return fmt.Errorf("discovery: socket dir %s: mode %o: %w", dir, st.Mode&0o777, err)
		}
	}
	return nil
}

type holderInfo struct {
	Publisher  string `json:"publisher"`
	Service    string `json:"service"`
	ProviderID string `json:"provider"`
	PID        int    `json:"pid"`
}

type sockReg struct {
	f        *os.File
	rec      Record
	lockPath string
}

func (r *sockReg) Record() Record { return r.rec }

// Close removes the socket and the lock file, then drops the lock.
func (r *sockReg) Close() error {
	if r.f == nil {
		return nil
	}
	err1 := os.Remove(r.rec.Addr)
	if errors.Is(err1, fs.ErrNotExist) {
		err1 = nil
	}
	err2 := os.Remove(r.lockPath)
	if errors.Is(err2, fs.ErrNotExist) {
		err2 = nil
	}
	err3 := r.f.Close()
	r.f = nil
	return errors.Join(err1, err2, err3)
}

func (d *SocketDir) paths(publisher, service string) (sock, lock string) {
	base := filepath.Join(d.Dir, publisher, service)
	return base + ".sock", base + ".lock"
}

// Register implements Registry.
func (d *SocketDir) Register(_ context.Context, rec Record) (Registration, error) {
	if err := EnsureDir(d.Dir); err != nil {
		return nil, err
	}
	if err := d.share(d.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("discovery: register %s: %w", rec.Name(), err)
	}
	pubDir := filepath.Join(d.Dir, rec.Publisher)
	if err := os.Mkdir(pubDir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("discovery: register %s: %w", rec.Name(), err)
	}
	if err := d.share(pubDir, 0o750); err != nil {
		return nil, fmt.Errorf("discovery: register %s: %w", rec.Name(), err)
	}
	sock, lock := d.paths(rec.Publisher, rec.Service)
	// sun_path holds 108 bytes including the terminating NUL.
	if len(sock) > 107 {
		return nil, fmt.Errorf("discovery: register %s: socket path %s is %d bytes, longer than the 107 a unix socket allows; use a shorter socket dir", rec.Name(), sock, len(sock))
	}
	for range 10 {
		f, err := os.OpenFile(lock, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("discovery: register %s: %w", rec.Name(), err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				h, _ := readHolder(lock)
				return nil, &TakenError{Name: rec.Name(), Holder: h}
			}
			return nil, fmt.Errorf("discovery: register %s: lock: %w", rec.Name(), err)
		}
		// The previous holder may have removed the file between our open and
		// our flock; then we locked an orphan inode. Check and retry.
		var a, b unix.Stat_t
		if unix.Fstat(int(f.Fd()), &a) != nil || unix.Stat(lock, &b) != nil || a.Ino != b.Ino || a.Dev != b.Dev {
			f.Close()
			continue
		}
		if err := d.share(lock, 0o640); err != nil {
			f.Close()
			return nil, fmt.Errorf("discovery: register %s: %w", rec.Name(), err)
		}
		// We hold the name. Whatever socket is there is stale.
		if err := os.Remove(sock); err != nil && !errors.Is(err, fs.ErrNotExist) {
			f.Close()
			return nil, fmt.Errorf("discovery: register %s: remove stale socket: %w", rec.Name(), err)
		}
		if rec.PID == 0 {
			rec.PID = os.Getpid()
		}
		rec.Addr = sock
		data, _ := json.Marshal(holderInfo{Publisher: rec.Publisher, Service: rec.Service, ProviderID: rec.ProviderID, PID: rec.PID})
		if err := f.Truncate(0); err == nil {
			_, err = f.WriteAt(data, 0)
		}
		return &sockReg{f: f, rec: rec, lockPath: lock}, nil
	}
	return nil, fmt.Errorf("discovery: register %s: lock file keeps changing", rec.Name())
}

// share gives path to d.Group with mode perm, when a group is set.
func (d *SocketDir) share(path string, perm os.FileMode) error {
	if d.Group <= 0 {
		return nil
	}
	if err := os.Lchown(path, -1, d.Group); err != nil {
		return fmt.Errorf("share %s with gid %d: %w", path, d.Group, err)
	}
	return os.Chmod(path, perm)
}

func readHolder(lockPath string) (Record, error) {
	data, err := os.ReadFile(lockPath)
	if err != nil {
		return Record{}, err
	}
	var h holderInfo
	if err := json.Unmarshal(data, &h); err != nil {
		return Record{}, err
	}
	return Record{Publisher: h.Publisher, Service: h.Service, ProviderID: h.ProviderID, PID: h.PID}, nil
}

// alive reports whether pid names a running process (EPERM: it exists).
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func (d *SocketDir) lookup(publisher, service string) (Record, bool) {
	rec, ok, _ := d.lookupErr(publisher, service)
	return rec, ok
}

// lookupErr is lookup that also says when the directory keeps the caller
// out (another user's socket dir), which is not the same as absent.
func (d *SocketDir) lookupErr(publisher, service string) (Record, bool, error) {
	sock, lock := d.paths(publisher, service)
	if _, err := os.Stat(sock); err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return Record{}, false, fmt.Errorf("discovery: %s/%s: %w", publisher, service, err)
		}
		return Record{}, false, nil
	}
	rec, err := readHolder(lock)
	if err != nil {
		// Being written right now, or foreign; let the dial decide.
		rec = Record{}
	} else if !alive(rec.PID) {
		return Record{}, false, nil
	}
	rec.Publisher, rec.Service, rec.Addr = publisher, service, sock
	return rec, true, nil
}

// Lookup implements Registry. A record whose holder process is gone is
// skipped; a socket nobody accepts on fails at dial time.
func (d *SocketDir) Lookup(_ context.Context, publisher, service string) ([]Record, error) {
	rec, ok, err := d.lookupErr(publisher, service)
	if ok {
		return []Record{rec}, nil
	}
	return nil, err
}

// List implements Registry.
func (d *SocketDir) List(_ context.Context, pattern string) ([]Record, error) {
	pubs, err := os.ReadDir(d.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("discovery: list: %w", err)
	}
	var out []Record
	for _, p := range pubs {
		if !p.IsDir() {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(d.Dir, p.Name()))
		if err != nil {
			continue
		}
		for _, e := range ents {
			svc, ok := strings.CutSuffix(e.Name(), ".sock")
			if !ok || !Match(pattern, p.Name(), svc) {
				continue
			}
			if rec, ok := d.lookup(p.Name(), svc); ok {
				out = append(out, rec)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}
