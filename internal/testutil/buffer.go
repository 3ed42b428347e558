package testutil

import (
	"bytes"
	"sync"
)

// SafeBuffer is a bytes.Buffer that may be written (by a logger, a child's
// output copier) while a test reads it. The zero value is ready.
type SafeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SafeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SafeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
