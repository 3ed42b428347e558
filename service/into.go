package service

import "reflect"

// Decoding a client's reply in place.
//
// A client receiver that waits on an empty inbox (Recv with a *T) claims
// its destination (want); the connection's reader then decodes the next
// message of type T straight into it (pushMsg), under the inbox's lock,
// and queues an item that says so (into). No value is allocated and
// copied per message. The claim ends when the receiver leaves: with an
// item (tryPop), or with an error (leave), after which nothing writes its
// value. Until the receiver takes the message, what its value held is
// kept (saved) and given back on a decoding error, when another receiver
// on the stream takes the message (it gets a value of its own), or when
// the stream closes with it unread: a receiver that gets no message finds
// its value as it was. Types registered as pointers keep the queued path.

// want claims dst, a non-nil pointer, as the destination of the next
// message, if nothing is queued (a queued item comes first, so the next
// message would not be the receiver's) and no other receiver has.
func (q *inbox) want(dst any) {
	t := reflect.TypeOf(dst)
	if t == nil || t.Kind() != reflect.Pointer || reflect.ValueOf(dst).IsNil() {
		return
	}
	q.mu.Lock()
	if q.dst == nil && q.head == len(q.buf) && q.err == nil {
		q.dst = dst
	}
	q.mu.Unlock()
}

// leave ends dst's claim for a receiver that leaves with err and no item
// (its context ended): if a message was decoded into dst meanwhile, the
// receiver has its value after all and leave returns that item instead.
func (q *inbox) leave(dst any, err error) (item, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.dst != nil && q.dst == dst {
		q.dst = nil
	}
	if q.head < len(q.buf) && q.buf[q.head].into && q.buf[q.head].v == dst {
		return q.takeHead(dst), nil
	}
	return item{}, err
}

// takeHead pops the first item for the receiver whose destination is dst
// (with q.mu held). A message decoded into another receiver's value moves
// to a new one, and that value gets back what it held.
func (q *inbox) takeHead(dst any) item {
	it := q.buf[q.head]
	q.buf[q.head] = item{}
	q.head++
	if q.head == len(q.buf) {
		q.buf, q.head = q.buf[:0], 0
	}
	if q.dst != nil && q.dst == dst {
		q.dst = nil
	}
	if it.into && it.v != dst {
		// Another receiver's value: the message moves to a new value and
		// the owner's gets back what it held (it received nothing), so the
		// two share no memory.
		rv := reflect.ValueOf(it.v).Elem()
		n := reflect.New(rv.Type())
		n.Elem().Set(rv)
		rv.Set(q.saved)
		it = item{v: n.Interface(), ptr: true}
	}
	if it.into {
		q.saved.SetZero() // hold no reference to the caller's old contents
	}
	return it
}

// restoreInto gives a claimed value whose message is dropped unread (the
// stream closed) back what it held (with q.mu held).
func (q *inbox) restoreInto() {
	if q.head < len(q.buf) && q.buf[q.head].into {
		reflect.ValueOf(q.buf[q.head].v).Elem().Set(q.saved)
		q.saved.SetZero()
	}
}

// pushMsg decodes a message of type ti and queues it: into the claimed
// destination when it is a *T of that type and nothing is queued, else
// into a new value. A decoding error leaves the inbox as it was (the
// caller closes the connection).
func (q *inbox) pushMsg(ti *typeInfo, payload []byte) error {
	q.mu.Lock()
	if dst := q.dst; dst != nil && !ti.ptr && reflect.TypeOf(dst) == ti.ptrTo && q.head == len(q.buf) && q.err == nil {
		// (A type registered as a pointer keeps the queued path, where a
		// nil *T sent arrives as a pointer to a zero T.)
		q.dst = nil
		// What the value held is kept until the message is taken: given
		// back on a decoding error, or if another receiver takes it.
		rv := reflect.ValueOf(dst).Elem()
		if !q.saved.IsValid() || q.saved.Type() != rv.Type() {
			q.saved = reflect.New(rv.Type()).Elem()
		}
		q.saved.Set(rv)
		rv.SetZero() // what the payload leaves out is zero, as in a new value
		err := decMode.Unmarshal(payload, dst)
		if err == nil {
			q.buf = append(q.buf, item{v: dst, into: true})
		} else {
			rv.Set(q.saved)
			q.saved.SetZero()
		}
		q.mu.Unlock()
		if err == nil {
			q.wake()
		}
		return err
	}
	q.mu.Unlock()
	v, byPtr, err := decodeMsg(ti, payload)
	if err != nil {
		return err
	}
	q.push(item{v: v, ptr: byPtr})
	return nil
}
