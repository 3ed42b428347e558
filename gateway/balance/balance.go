// Package balance owns the gateway's load-balancing policies and passive
// health. A policy is a Selector with one method; each policy is a small
// type (the shape of caddy's reverseproxy selection policies). Selectors
// are safe for concurrent use and never block.
package balance

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Candidate is one backend a Selector may choose.
type Candidate interface {
	// Available reports whether the candidate may take traffic now
	// (not failed, not taken out by passive health, not draining).
	Available() bool
	// Active is the number of requests or connections in flight.
	Active() int64
	// Weight is the relative share of traffic, at least 1.
	Weight() int
}

// Selector chooses one candidate from pool for a request whose real client
// address is clientIP. It returns the index into pool, or -1 when no
// candidate is available.
type Selector interface {
	Select(pool []Candidate, clientIP string) int
}

// Policy names, as written in GopherMesh's config.json.
const (
	PolicyRoundRobin = "round_robin"
	PolicyLeastConn  = "least_conn"
	PolicyIPHash     = "ip_hash"
)

// ErrUnknownPolicy is returned by New for a name it does not know.
var ErrUnknownPolicy = errors.New("unknown load balancing policy")

// New returns the selector for a policy name; "" means round_robin.
// Every policy honours weights; with all weights equal to 1 they behave
// as their unweighted forms.
func New(policy string) (Selector, error) {
	switch policy {
	case "", PolicyRoundRobin:
		return &RoundRobin{}, nil
	case PolicyLeastConn:
		return LeastConn{}, nil
	case PolicyIPHash:
		return NewIPHash(), nil
	}
	return nil, fmt.Errorf("balance: %w %q (want round_robin, least_conn or ip_hash)", ErrUnknownPolicy, policy)
}

func weight(c Candidate) int {
	if w := c.Weight(); w > 1 {
		return w
	}
	return 1
}

// RoundRobin cycles through the available candidates. With unequal weights
// it runs nginx's smooth weighted round robin, so a backend of weight 3
// next to one of weight 1 gets a a b a, not a a a b.
type RoundRobin struct {
	next atomic.Uint64

	mu      sync.Mutex
	current []int // smooth WRR state, per pool index
}

// Select implements Selector.
func (r *RoundRobin) Select(pool []Candidate, _ string) int {
	n := len(pool)
	if n == 0 {
		return -1
	}
	weighted := false
	for _, c := range pool {
		if weight(c) != 1 {
			weighted = true
			break
		}
	}
	if !weighted {
		start := r.next.Add(1) - 1
		for i := range n {
			idx := int((start + uint64(i)) % uint64(n))
			if pool[idx].Available() {
				return idx
			}
		}
		return -1
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.current) != n {
		r.current = make([]int, n)
	}
	best, total := -1, 0
	for i, c := range pool {
		if !c.Available() {
			continue
		}
		w := weight(c)
		r.current[i] += w
		total += w
		if best < 0 || r.current[i] > r.current[best] {
			best = i
		}
	}
	if best >= 0 {
		r.current[best] -= total
	}
	return best
}

// LeastConn picks the available candidate with the fewest requests in
// flight per unit of weight; ties are broken at random (reservoir sampling)
// so that idle backends share the first requests.
type LeastConn struct{}

// Select implements Selector.
func (LeastConn) Select(pool []Candidate, _ string) int {
	best, ties := -1, 0
	var bestLoad float64
	for i, c := range pool {
		if !c.Available() {
			continue
		}
		load := float64(c.Active()) / float64(weight(c))
		switch {
		case best < 0 || load < bestLoad:
			best, bestLoad, ties = i, load, 1
		case load == bestLoad:
			ties++
			if rand.IntN(ties) == 0 {
				best = i
			}
		}
	}
	return best
}

// IPHash maps a client address to a candidate with weighted rendezvous
// (highest random weight) hashing: the same client always reaches the same
// backend while it is available, and when one backend leaves only its own
// clients move.
type IPHash struct {
	seed maphash.Seed
}

// NewIPHash returns an IPHash with a fresh seed. Mapping is stable for the
// life of the selector (a reload that keeps a route keeps its selector).
func NewIPHash() *IPHash { return &IPHash{seed: maphash.MakeSeed()} }

// Select implements Selector.
func (h *IPHash) Select(pool []Candidate, clientIP string) int {
	best := -1
	var bestScore float64
	for i, c := range pool {
		if !c.Available() {
			continue
		}
		var mh maphash.Hash
		mh.SetSeed(h.seed)
		mh.WriteString(clientIP)
		mh.WriteByte(byte(i))
		mh.WriteByte(byte(i >> 8))
		// Map the hash to (0,1) and score it as -w/ln(u): the weighted
		// rendezvous formula, so a backend of weight 2 wins twice as often.
		u := (float64(mh.Sum64()>>11) + 0.5) / (1 << 53)
		score := -float64(weight(c)) / math.Log(u)
		if best < 0 || score > bestScore {
			best, bestScore = i, score
		}
	}
	return best
}

// Passive is passive health for one backend: MaxFails failures within
// Window take it out of rotation for Cooldown. A success resets the count.
// The zero value uses the defaults below. Safe for concurrent use.
type Passive struct {
	MaxFails int           // failures that trip the breaker (default 3)
	Window   time.Duration // failures older than this are forgotten (default 10s)
	Cooldown time.Duration // how long a tripped backend stays out (default 5s)

	mu        sync.Mutex
	fails     int
	firstFail time.Time
	failing   atomic.Bool  // fails > 0, readable without the lock
	downUntil atomic.Int64 // unix nanos; 0 = up
}

func (p *Passive) maxFails() int {
	if p.MaxFails > 0 {
		return p.MaxFails
	}
	return 3
}

func (p *Passive) window() time.Duration {
	if p.Window > 0 {
		return p.Window
	}
	return 10 * time.Second
}

func (p *Passive) cooldown() time.Duration {
	if p.Cooldown > 0 {
		return p.Cooldown
	}
	return 5 * time.Second
}

// Fail records a failed request at now. It reports whether this failure
// took the backend out of rotation.
func (p *Passive) Fail(now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fails == 0 || now.Sub(p.firstFail) > p.window() {
		p.fails, p.firstFail = 0, now
	}
	p.fails++
	p.failing.Store(true)
	if p.fails >= p.maxFails() {
		p.fails = 0
		p.downUntil.Store(now.Add(p.cooldown()).UnixNano())
		return true
	}
	return false
}

// Succeed records a successful request: the failure count starts over.
// On a healthy backend it costs two atomic loads and takes no lock.
func (p *Passive) Succeed() {
	if !p.failing.Load() && p.downUntil.Load() == 0 {
		return
	}
	p.mu.Lock()
	p.fails = 0
	p.failing.Store(false)
	p.downUntil.Store(0)
	p.mu.Unlock()
}

// Healthy reports whether the backend is in rotation at now.
func (p *Passive) Healthy(now time.Time) bool {
	d := p.downUntil.Load()
	return d == 0 || now.UnixNano() >= d
}

// Up is Healthy at the current time; it reads the clock only while the
// backend is out of rotation.
func (p *Passive) Up() bool {
	d := p.downUntil.Load()
	return d == 0 || time.Now().UnixNano() >= d
}

// Reset puts the backend back in rotation and forgets its failures.
func (p *Passive) Reset() {
	p.mu.Lock()
	p.fails = 0
	p.failing.Store(false)
	p.downUntil.Store(0)
	p.mu.Unlock()
}
