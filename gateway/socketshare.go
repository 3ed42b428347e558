package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/warren-mesh/warren/gateway/backend"
)

// socketShare holds the activation sockets of readiness type socket, one
// per internal address, shared by the backends there: a reload's new
// backend takes over the old one's socket (and its backlog) while the old
// one drains, instead of failing to bind the address the old socket still
// holds (also when the reload moves the route to another public port).
//
// A shared socket is watched while it has users: if a program shuts it
// down (shutdown(2) on an inherited socket; a retired program may do so
// while its successor already runs on it), the programs still on it can no
// longer accept. The watcher then opens a new socket, stops them and
// starts them again on the new one.
type socketShare struct {
	mu sync.Mutex
	// m is keyed by the address alone: config validation refuses two
	// socket-activated backends on one address among live routes, so a
	// second user of an address is a reload's successor, in the same route
	// or in the route that replaces it on another port.
	m        map[string]*sharedSocket
	watchers sync.WaitGroup
}

// wait returns once every watcher has ended (after the last release).
func (sh *socketShare) wait() { sh.watchers.Wait() }

type sharedSocket struct {
	sock  *activationSocket
	refs  int                       // backends built on it (get), given back by release
	users map[*backend.Backend]bool // those of them that exist (use)
	stop  chan struct{}             // closed when refs drops to 0: ends the watcher
}

// shareCheck is how often a shared socket is checked for a shutdown.
const shareCheck = time.Second

// get returns the socket for addr, for a backend about to be built
// (release gives it back).
func (sh *socketShare) get(addr, name string) *activationSocket {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.m == nil {
		sh.m = map[string]*sharedSocket{}
	}
	if ss := sh.m[addr]; ss != nil {
		ss.sock.setName(name)
		ss.refs++
		return ss.sock
	}
	s := newActivationSocket(addr, name)
	ss := &sharedSocket{sock: s, refs: 1, users: map[*backend.Backend]bool{}, stop: make(chan struct{})}
	sh.m[addr] = ss
	sh.watchers.Go(func() { sh.watch(ss) })
	return s
}

// use records b, built on s, as one of its users.
func (sh *socketShare) use(s *activationSocket, b *backend.Backend) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if ss := sh.m[s.addr]; ss != nil && ss.sock == s {
		ss.users[b] = true
	}
}

// release gives back a backend's use of s (b may be nil: the backend was
// never built) and closes the socket after the last.
func (sh *socketShare) release(s *activationSocket, b *backend.Backend) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	ss := sh.m[s.addr]
	if ss == nil || ss.sock != s {
		return
	}
	delete(ss.users, b)
	if ss.refs--; ss.refs > 0 {
		return
	}
	delete(sh.m, s.addr)
	close(ss.stop)
	s.close()
}

// watch replaces ss's socket when a program has shut it down under the
// programs still using it, and stops those (they cannot accept on it).
func (sh *socketShare) watch(ss *sharedSocket) {
	t := time.NewTicker(shareCheck)
	defer t.Stop()
	for {
		select {
		case <-ss.stop:
			return
		case <-t.C:
		}
		if !ss.sock.dead() {
			continue
		}
		sh.mu.Lock()
		users := make([]*backend.Backend, 0, len(ss.users))
		for b := range ss.users {
			users = append(users, b)
		}
		sh.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := ss.sock.open(ctx)
		cancel()
		if err != nil {
			continue // the address is taken meanwhile: next time
		}
		for _, b := range users {
			if st := b.State(); st != backend.Ready && st != backend.Starting {
				continue
			}
			if b.Kill() != nil {
				continue
			}
			// Requests may already be queued on the new socket (sent
			// while the program was still up): start the next program
			// now rather than on the next request.
			sh.watchers.Go(func() { restartWhenStopped(b, ss.stop) })
		}
	}
}

// restartWhenStopped starts b again once its killed process is gone
// (dormant), unless b is closed or the socket released meanwhile.
func restartWhenStopped(b *backend.Backend, stop <-chan struct{}) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	deadline := time.Now().Add(time.Minute) // beyond any stop grace
	for time.Now().Before(deadline) {
		switch b.State() {
		case backend.Dormant:
			b.Start()
			return
		case backend.Stopped, backend.Failed:
			return
		}
		select {
		case <-stop:
			return
		case <-b.Closed():
			return
		case <-t.C:
		}
	}
}
