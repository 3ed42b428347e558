package service

import (
	"context"
	"reflect"
	"sync"
)

// item is one inbound value, or an error, on a stream.
type item struct {
	v   any
	err error
	ptr bool // v points to the value (decoded in place: no copy into an interface)
	// into: the message was decoded straight into the waiting receiver's
	// destination, v (inbox.want).
	into bool
}

// value returns the item's value as sent.
func (it item) value() any {
	if it.ptr {
		return reflect.ValueOf(it.v).Elem().Interface()
	}
	return it.v
}

// inbox is a stream's unbounded FIFO of inbound items. Unbounded so that one
// slow reader never stalls a connection's other streams.
type inbox struct {
	mu     sync.Mutex
	buf    []item
	head   int
	err    error // set by close; returned once buf is drained
	signal chan struct{}
	dst    any           // the destination a client receiver claimed (into.go)
	saved  reflect.Value // what the claimed value held before a message was decoded into it
}

func (q *inbox) init() { q.signal = make(chan struct{}, 1) }

func (q *inbox) push(it item) bool {
	q.mu.Lock()
	if q.err != nil {
		q.mu.Unlock()
		return false
	}
	if q.head > 0 && (q.head == len(q.buf) || q.head > 1024 && q.head*2 > len(q.buf)) {
		n := copy(q.buf, q.buf[q.head:])
		clear(q.buf[n:])
		q.buf, q.head = q.buf[:n], 0
	}
	q.buf = append(q.buf, it)
	q.mu.Unlock()
	q.wake()
	return true
}

func (q *inbox) wake() {
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// ready reports whether an item or the close error is waiting.
func (q *inbox) ready() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.head < len(q.buf) || q.err != nil
}

// tryPop returns the next item (ok), or the close error, or neither.
// dst is the caller's destination (want): its claim ends when it leaves
// with an item or the error.
func (q *inbox) tryPop(dst any) (it item, ok bool, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head < len(q.buf) {
		it = q.takeHead(dst)
		return it, true, nil
	}
	if q.err != nil && q.dst != nil && q.dst == dst {
		q.dst = nil
	}
	return item{}, false, q.err
}

func (q *inbox) pop(ctx context.Context) (item, error) {
	for {
		q.mu.Lock()
		if q.head < len(q.buf) {
			it := q.buf[q.head]
			q.buf[q.head] = item{}
			q.head++
			if q.head == len(q.buf) {
				q.buf, q.head = q.buf[:0], 0
			}
			q.mu.Unlock()
			return it, nil
		}
		if err := q.err; err != nil {
			q.mu.Unlock()
			return item{}, err
		}
		q.mu.Unlock()
		done := ctx.Done()
		if done == nil {
			<-q.signal
			continue
		}
		select {
		case <-q.signal:
		case <-done:
			return item{}, ctx.Err()
		}
	}
}

// discard drops queued items and closes with err: pop returns err at once.
func (q *inbox) discard(err error) {
	q.mu.Lock()
	q.restoreInto()
	clear(q.buf)
	q.buf, q.head = q.buf[:0], 0
	q.mu.Unlock()
	q.close(err)
}

// close makes pop return err once the queued items are drained.
func (q *inbox) close(err error) {
	q.mu.Lock()
	if q.err == nil {
		q.err = err
	}
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}
