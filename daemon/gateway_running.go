package daemon

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"github.com/warren-mesh/warren/gateway/admin"
	"github.com/warren-mesh/warren/internal/logging"
	"github.com/warren-mesh/warren/proc"
)

// runningRecord keeps the record a running gateway leaves beside its config
// (admin.Running): where its admin API listens, so clients find it after
// the file's address is edited, and its backends' process groups, so the
// next start clears what a killed gateway left. It is written only once
// the gateway is up: a second gateway started on the same file, which
// fails, must not overwrite the first one's record.
type runningRecord struct {
	mu     sync.Mutex
	path   string // config file
	log    *slog.Logger
	on     bool
	listen string
	groups []int
	mark   string // "WARREN_GATEWAY_RUN=<random>": in every backend's environment
	warned bool
}

// markVar names the environment variable that marks a gateway's backend
// processes (and, by inheritance, their children) with its run's token.
const markVar = "WARREN_GATEWAY_RUN"

// init starts a new run: a new mark, nothing recorded yet.
func (r *runningRecord) init(configPath string, log *slog.Logger) {
	var b [12]byte
	rand.Read(b[:])
	r.mu.Lock()
	r.path, r.log, r.on, r.groups, r.warned = configPath, log, false, nil, false
	r.mark = markVar + "=" + hex.EncodeToString(b[:])
	r.mu.Unlock()
}

// backendEnv is the engine's BackendEnv: the run's mark.
func (r *runningRecord) backendEnv() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return []string{r.mark}
}

// setGroups is the engine's OnProcessGroups.
func (r *runningRecord) setGroups(pgids []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.groups = pgids
	if r.on {
		r.writeLocked()
	}
}

// start writes the record, from now on at every change.
func (r *runningRecord) start(listen string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.on, r.listen = true, listen
	r.writeLocked()
}

// stop removes the record (a gateway that stops leaves nothing to clear).
func (r *runningRecord) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.on {
		r.on = false
		admin.RemoveRunning(r.path)
	}
}

func (r *runningRecord) writeLocked() {
	err := admin.WriteRunning(r.path, admin.Running{Listen: r.listen, Groups: r.groups, Mark: r.mark})
	if err != nil && !r.warned {
		r.warned = true
		r.log.Warn("cannot record the running gateway beside its config: clients read the admin address from the file, and a crash's leftovers are not cleared", logging.KeyErr, err)
	}
}

// clearLeftovers kills what a gateway killed on this config left running:
// the children of its backends' wrapper scripts, which Pdeathsig did not
// reach and which would hold the backends' ports (a start is refused while
// another program accepts on internal_port). Only processes in the
// recorded groups that carry that gateway's mark in their environment are
// killed: a number alone may name anyone's group after a reboot. It
// waits, briefly, for them to be gone.
func (g *Gateway) clearLeftovers() {
	var killed []int
	groups, mark := admin.TakeLeftovers(g.ConfigPath)
	for _, pg := range groups {
		killed = append(killed, proc.KillOrphanedGroup(pg, mark, syscall.SIGKILL)...)
	}
	if len(killed) == 0 {
		return
	}
	g.log.Info("killed the leftovers of a gateway that did not stop", "pids", killed, "config", g.ConfigPath)
	deadline := time.Now().Add(2 * time.Second)
	for _, pid := range killed {
		for proc.Alive(pid) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
}
