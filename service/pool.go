package service

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// pool is the server's worker pool.
//
// How it grows: submit hands a job straight to an idle worker if there is
// one; otherwise it queues the job and, if fewer than max workers run,
// starts a new worker. So workers follow the number of jobs waiting, up to
// max. How it shrinks: idle workers wait on a LIFO stack (the most recently
// idle is reused first, so the others age); a janitor goroutine wakes every
// idleTimeout/2 and stops the workers idle for longer than idleTimeout,
// down to min. Priority: queued jobs sit in a heap ordered by priority
// (higher first), then arrival; workers take the top when they finish.
type pool struct {
	mu          sync.Mutex
	q           jobHeap
	seq         uint64
	idle        []*worker // LIFO: most recently idle last
	workers     int
	min, max    int
	idleTimeout time.Duration
	now         atomic.Int64 // coarse clock (unix nanoseconds), set by the janitor
	closed      bool
	done        chan struct{}
	wg          sync.WaitGroup
	run         func(job)
	stats       PoolStats
}

type worker struct {
	ch       chan job // a job to run, or the zero job to exit
	idleFrom int64
}

// PoolStats is a snapshot of a server's worker pool.
type PoolStats struct {
	Workers int    // running workers (busy or idle), including inline runs
	Idle    int    // workers waiting for a job
	Queued  int    // jobs waiting for a worker
	Started uint64 // workers started since the server was created
	Exited  uint64 // workers stopped for being idle
	Handled uint64 // jobs run
	Inline  uint64 // of which run by a connection's reader (see Server docs)
}

type job struct {
	st   *Stream
	msg  KnownMessage
	prio int
	seq  uint64
	ptr  bool // msg is a pointer to the registered value type (see deliver)
}

var errPoolClosed = errors.New("worker pool closed")

func newPool(min, max int, idle time.Duration, run func(job)) *pool {
	if idle <= 0 {
		idle = 2 * time.Second
	}
	p := &pool{min: min, max: max, idleTimeout: idle, run: run, done: make(chan struct{})}
	p.now.Store(time.Now().UnixNano())
	p.mu.Lock()
	for range min {
		p.startLocked(job{})
	}
	p.mu.Unlock()
	p.wg.Add(1)
	go p.janitor()
	return p
}

func (p *pool) startLocked(first job) {
	p.workers++
	p.stats.Started++
	w := &worker{ch: make(chan job, 1)}
	p.wg.Add(1)
	go p.work(w, first)
}

func (p *pool) submit(j job) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errPoolClosed
	}
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.stats.Handled++
		p.mu.Unlock()
		w.ch <- j // buffered: never blocks
		return nil
	}
	if p.workers < p.max {
		p.stats.Handled++
		p.startLocked(j)
		p.mu.Unlock()
		return nil
	}
	p.seq++
	j.seq = p.seq
	p.q.push(j)
	p.mu.Unlock()
	return nil
}

// borrow reserves a worker slot for a job the caller runs itself (a
// connection's reader running a handler inline); it fails when jobs are
// queued (they go first, by priority) or every slot is taken.
func (p *pool) borrow() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.q.len() > 0 || p.workers >= p.max {
		return false
	}
	p.workers++
	p.stats.Handled++
	p.stats.Inline++
	return true
}

// giveBack returns a borrowed slot; if jobs wait, a worker takes it.
func (p *pool) giveBack() {
	p.mu.Lock()
	p.workers--
	if !p.closed && p.q.len() > 0 && p.workers < p.max {
		j := p.q.pop()
		p.stats.Handled++
		p.startLocked(j)
	}
	p.mu.Unlock()
}

func (p *pool) work(w *worker, j job) {
	defer p.wg.Done()
	for {
		if j.msg != nil {
			p.run(j)
		}
		p.mu.Lock()
		if p.q.len() > 0 && !p.closed {
			j = p.q.pop()
			p.stats.Handled++
			p.mu.Unlock()
			continue
		}
		if p.closed {
			p.workers--
			p.mu.Unlock()
			return
		}
		w.idleFrom = p.now.Load()
		p.idle = append(p.idle, w)
		p.mu.Unlock()
		j = <-w.ch
		if j.msg == nil { // told to exit; accounting done by the sender
			return
		}
	}
}

// janitor stops workers idle for longer than idleTimeout.
func (p *pool) janitor() {
	defer p.wg.Done()
	t := time.NewTicker(p.idleTimeout / 2)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case now := <-t.C:
			p.now.Store(now.UnixNano())
			limit := now.Add(-p.idleTimeout).UnixNano()
			p.mu.Lock()
			// The oldest idle workers are at the bottom of the stack.
			n := 0
			for n < len(p.idle) && p.idle[n].idleFrom <= limit && p.workers-n > p.min {
				n++
			}
			stop := append([]*worker(nil), p.idle[:n]...)
			p.idle = append(p.idle[:0], p.idle[n:]...)
			p.workers -= n
			p.stats.Exited += uint64(n)
			p.mu.Unlock()
			for _, w := range stop {
				w.ch <- job{}
			}
		}
	}
}

// Stats returns a snapshot.
func (p *pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Workers, s.Idle, s.Queued = p.workers, len(p.idle), p.q.len()
	return s
}

// close stops the workers after their current job, drops queued jobs and
// waits for every worker and the janitor.
func (p *pool) close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		p.q = jobHeap{}
		close(p.done)
		for _, w := range p.idle {
			p.workers--
			w.ch <- job{}
		}
		p.idle = nil
	}
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
