package daemon

import "github.com/warren-mesh/warren/service"

// serveJobs answers the job requests; ok is false for a request it does not know.
func (d *Daemon) serveJobs(s *service.Stream, peer Peer, req any) (reply any, ok bool) {
	return nil, false
}
