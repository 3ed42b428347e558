package service

import (
	"errors"
	"sync"
	"time"
)

// pool is the server's worker pool.
//
// How it grows: Submit queues a job and, if no worker is idle and fewer
// than max are running, starts one; so the number of workers follows the
// number of jobs waiting, up to max. How it shrinks: a worker that finds
// the queue empty waits up to idleTimeout for a wake-up, then exits unless
// only min workers are left. The queue is a heap ordered by priority
// (higher first), then arrival: under load, when jobs wait, the highest
// priority runs next.
type pool struct {
	mu          sync.Mutex
	q           jobHeap
	seq         uint64
	workers     int
	idle        int // waiting workers not yet claimed by a wake token
	min, max    int
	idleTimeout time.Duration
	wake        chan struct{} // one token per claimed idle worker; cap max
	done        chan struct{}
	closed      bool
	wg          sync.WaitGroup
	run         func(job)
	stats       PoolStats
}

// PoolStats is a snapshot of a server's worker pool.
type PoolStats struct {
	Workers int    // running workers (busy or idle)
	Idle    int    // workers waiting for a job
	Queued  int    // jobs waiting for a worker
	Started uint64 // workers started since the server was created
	Exited  uint64 // workers that exited after being idle
	Handled uint64 // jobs run
}

type job struct {
	st   *Stream
	msg  KnownMessage
	prio int
	seq  uint64
}

var errPoolClosed = errors.New("worker pool closed")

func newPool(min, max int, idle time.Duration, run func(job)) *pool {
	p := &pool{min: min, max: max, idleTimeout: idle, run: run,
		wake: make(chan struct{}, max), done: make(chan struct{})}
	for range min {
		p.workers++
		p.stats.Started++
		p.wg.Add(1)
		go p.worker()
	}
	return p
}

func (p *pool) submit(j job) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errPoolClosed
	}
	p.seq++
	j.seq = p.seq
	p.q.push(j)
	switch {
	case p.idle > 0:
		p.idle--
		p.wake <- struct{}{} // never blocks: tokens <= idle workers <= max
	case p.workers < p.max:
		p.workers++
		p.stats.Started++
		p.wg.Add(1)
		go p.worker()
	}
	p.mu.Unlock()
	return nil
}

func (p *pool) worker() {
	defer p.wg.Done()
	timer := time.NewTimer(p.idleTimeout)
	timer.Stop()
	p.mu.Lock()
	for {
		for p.q.len() > 0 && !p.closed {
			j := p.q.pop()
			p.stats.Handled++
			p.mu.Unlock()
			p.run(j)
			p.mu.Lock()
		}
		if p.closed {
			p.workers--
			p.mu.Unlock()
			return
		}
		p.idle++
		p.mu.Unlock()
		timer.Reset(p.idleTimeout)
		select {
		case <-p.wake:
			timer.Stop()
			p.mu.Lock()
		case <-p.done:
			timer.Stop()
			p.mu.Lock()
		case <-timer.C:
			p.mu.Lock()
			select {
			case <-p.wake: // claimed while timing out: work
			default:
				p.idle--
				if p.workers > p.min {
					p.workers--
					p.stats.Exited++
					p.mu.Unlock()
					return
				}
			}
		}
	}
}

// Stats returns a snapshot.
func (p *pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Workers, s.Idle, s.Queued = p.workers, p.idle, p.q.len()
	return s
}

// close stops the workers after their current job and drops queued jobs.
func (p *pool) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.wg.Wait()
		return
	}
	p.closed = true
	p.q = jobHeap{}
	close(p.done)
	p.mu.Unlock()
	p.wg.Wait()
}

// jobHeap is a binary max-heap on (prio, -seq) without interface boxing.
type jobHeap struct{ a []job }

func (h *jobHeap) len() int { return len(h.a) }

func (h *jobHeap) less(i, j int) bool {
	if h.a[i].prio != h.a[j].prio {
		return h.a[i].prio > h.a[j].prio
	}
	return h.a[i].seq < h.a[j].seq
}

func (h *jobHeap) push(j job) {
	h.a = append(h.a, j)
	i := len(h.a) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			break
		}
		h.a[i], h.a[parent] = h.a[parent], h.a[i]
		i = parent
	}
}

func (h *jobHeap) pop() job {
	top := h.a[0]
	n := len(h.a) - 1
	h.a[0] = h.a[n]
	h.a[n] = job{}
	h.a = h.a[:n]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && h.less(l, m) {
			m = l
		}
		if r < n && h.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		h.a[i], h.a[m] = h.a[m], h.a[i]
		i = m
	}
	return top
}
