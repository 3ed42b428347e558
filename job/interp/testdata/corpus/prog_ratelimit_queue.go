package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

type Queue struct {
	mu    sync.Mutex
	items []string
	ready chan struct{}
}

func NewQueue() *Queue { return &Queue{ready: make(chan struct{}, 1)} }

func (q *Queue) Put(s string) {
	q.mu.Lock()
	q.items = append(q.items, s)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

func (q *Queue) Get(ctx context.Context) (string, error) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			s := q.items[0]
			q.items = q.items[1:]
			q.mu.Unlock()
			return s, nil
		}
		q.mu.Unlock()
		select {
		case <-q.ready:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

func main() {
	q := NewQueue()
	go func() {
		for _, s := range []string{"a", "b", "c"} {
			q.Put(s)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for range 3 {
		s, err := q.Get(ctx)
		fmt.Println(s, err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel2()
	_, err := q.Get(short)
	fmt.Println(err)
}

// Output:
// a <nil>
// b <nil>
// c <nil>
// context deadline exceeded
