package daemon

import (
	"fmt"
	"os"
	"strconv"

	"github.com/warren-mesh/warren/daemon/api"
	"github.com/warren-mesh/warren/internal/buildinfo"
	"github.com/warren-mesh/warren/internal/logging"
	"github.com/warren-mesh/warren/service"
)

// Serve answers one request of {warren, daemon} (api.Backend). Every request
// passes the peer-credential check first.
func (d *Daemon) Serve(s *service.Stream, req any) any {
	peer, err := d.authorize(s)
	if err != nil {
		return err
	}
	switch r := req.(type) {
	case api.InfoReq:
		return d.info()
	default:
		if reply, ok := d.serveJobs(s, peer, req); ok {
			return reply
		}
		return fmt.Errorf("daemon: %T: %w", r, api.ErrBadRequest)
	}
}

// authorize checks the caller's peer credentials. A stream without them
// (not OS scope) is refused: the daemon publishes in OS scope only.
func (d *Daemon) authorize(s *service.Stream) (Peer, error) {
	c, ok := s.PeerCred()
	if !ok {
		return Peer{}, api.ErrDenied
	}
	p := Peer{UID: c.UID, GID: c.GID, PID: c.PID}
	if !d.auth.allow(p) {
		d.log.Warn("request refused", logging.KeyPeer, p.String(), logging.KeyReason, "peer credentials")
		return p, fmt.Errorf("daemon: uid %d: %w", p.UID, api.ErrDenied)
	}
	return p, nil
}

func (p Peer) String() string {
	return "uid=" + strconv.Itoa(int(p.UID)) + " gid=" + strconv.Itoa(int(p.GID)) + " pid=" + strconv.Itoa(int(p.PID))
}

func (d *Daemon) info() api.Info {
	bi := buildinfo.Get()
	return api.Info{
		NodeID:    d.nodeID,
		Version:   bi.Version,
		Commit:    bi.Commit,
		GoVersion: bi.GoVersion,
		Platform:  bi.Platform,
		Features:  bi.Features,
		WorkDir:   d.WorkDir,
		PID:       os.Getpid(),
		Started:   d.started,
		UptimeSec: d.Uptime().Seconds(),
		Gateway:   d.gatewayInfo(),
	}
}
