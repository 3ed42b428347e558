package service

import (
	"context"
	"reflect"
	"testing"
)

type revMsg struct {
	Items []int `cbor:"i"`
}

type revPtr struct {
	N int `cbor:"n"`
}

func init() {
	RegisterName("review.revMsg", revMsg{})
	RegisterName("review.revPtr", &revPtr{})
}

// Two receivers on one stream: A claims, B takes the message decoded into
// A's value; A then leaves on its context. A's value must be as before
// (it received nothing), and must not share memory with B's value.
func TestReviewLeaveAfterStolenClaim(t *testing.T) {
	var q inbox
	q.init()
	ti := lookupType(reflect.TypeOf(revMsg{}))
	payload, err := encMode.Marshal(revMsg{Items: []int{1, 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	var a, b revMsg
	q.want(&a)
	if err := q.pushMsg(ti, payload); err != nil {
		t.Fatal(err)
	}
	it, ok, _ := q.tryPop(&b) // B is woken first
	if !ok {
		t.Fatal("B got nothing")
	}
	if err := assign(&b, it); err != nil {
		t.Fatal(err)
	}
	if _, err := q.leave(&a, context.Canceled); err == nil {
		t.Fatal("A got an item")
	}
	if a.Items != nil {
		t.Errorf("A left with an error, but its value holds the message B received: %+v", a)
	}
	if len(a.Items) > 0 && &a.Items[0] == &b.Items[0] {
		t.Errorf("A's value and B's share the slice's array: A writing it races with B")
	}
}

// A type registered as a pointer; the sender sent a nil *T. The receiver
// gets the same whether its value was claimed or the message queued.
func TestReviewNilPointerSameClaimedOrQueued(t *testing.T) {
	ti := lookupType(reflect.TypeOf(&revPtr{}))
	payload, err := encMode.Marshal((*revPtr)(nil))
	if err != nil {
		t.Fatal(err)
	}
	recv := func(claim bool) *revPtr {
		var q inbox
		q.init()
		var p *revPtr
		if claim {
			q.want(&p)
		}
		if err := q.pushMsg(ti, payload); err != nil {
			t.Fatal(err)
		}
		it, ok, _ := q.tryPop(&p)
		if !ok {
			t.Fatal("nothing")
		}
		if !it.into {
			if err := assign(&p, it); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	c, qd := recv(true), recv(false)
	if (c == nil) != (qd == nil) {
		t.Errorf("claimed: %v, queued: %v", c, qd)
	}
}

// A malformed reply closes the connection and the receiver gets an error;
// its value must be as it was (it was before in-place decoding).
func TestReviewMalformedReplyKeepsValue(t *testing.T) {
	var q inbox
	q.init()
	ti := lookupType(reflect.TypeOf(revMsg{}))
	a := revMsg{Items: []int{9}}
	q.want(&a)
	if err := q.pushMsg(ti, []byte{0xa1, 0x61, 'i', 0x63, 'x', 'y', 'z'}); err == nil { // {"i": "xyz"}: a string for []int
		t.Fatal("no decoding error")
	}
	q.close(context.Canceled)
	if _, _, err := q.tryPop(&a); err == nil {
		t.Fatal("no error")
	}
	if len(a.Items) != 1 || a.Items[0] != 9 {
		t.Errorf("the receiver's value changed on a malformed reply: %+v", a)
	}
}
