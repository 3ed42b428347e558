package cli

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestOnlyCut(t *testing.T) {
	other := errors.New("backend web: process 12 did not stop")
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{context.DeadlineExceeded, true},
		{fmt.Errorf("gateway: close: %w", context.Canceled), true},
		{fmt.Errorf("gateway: close: %w", errors.Join(context.DeadlineExceeded, fmt.Errorf("admin: %w", context.DeadlineExceeded))), true},
		{other, false},
		// A cut joined with another failure used to exit 0.
		{fmt.Errorf("gateway: close: %w", errors.Join(other, context.DeadlineExceeded)), false},
		{fmt.Errorf("gateway: close: %w", errors.Join(context.DeadlineExceeded, nil, other)), false},
		{fmt.Errorf("stop: %w and %w", context.Canceled, other), false},
	} {
		if got := onlyCut(tc.err); got != tc.want {
			t.Errorf("onlyCut(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
