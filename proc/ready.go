package proc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// ErrExited is returned by WaitReady when the process ended before it was
// ready.
var ErrExited = errors.New("proc: process exited before it was ready")

// ReadyCheck says how WaitReady knows a process serves.
type ReadyCheck struct {
	// Addr is host:port. Empty means no check: ready at once.
	Addr string
	// HTTPPath, when set, makes the check an HTTP GET of
	// http://Addr+HTTPPath that must answer 2xx or 3xx; otherwise a TCP
	// connect to Addr is enough.
	HTTPPath string
	// Exited, when set (Process.Done()), makes WaitReady return ErrExited
	// as soon as the process ends instead of polling until ctx ends.
	Exited <-chan struct{}
	// Interval caps the backoff between attempts; 0 = 100ms. Polling starts
	// at 1ms and doubles.
	Interval time.Duration
}

// WaitReady polls c until it succeeds, the process exits, or ctx ends.
func WaitReady(ctx context.Context, c ReadyCheck) error {
	if c.Addr == "" {
		return nil
	}
	maxWait := c.Interval
	if maxWait <= 0 {
		maxWait = 100 * time.Millisecond
	}
	var client *http.Client
	if c.HTTPPath != "" {
		tr := &http.Transport{DisableKeepAlives: true, Proxy: nil}
		defer tr.CloseIdleConnections()
		client = &http.Client{Transport: tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	wait := time.Millisecond
	var last error
	for {
		err := probe(ctx, c, client)
		if err == nil {
			return nil
		}
		// A probe cut short because ctx ended says nothing about the
		// backend: the error keeps the last real answer (a status, a
		// refusal) when there was one.
		if last == nil || ctx.Err() == nil {
			last = err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("proc: wait ready %s: %w (last: %v)", c.Addr, ctx.Err(), last)
		case <-c.Exited:
			t.Stop()
			return fmt.Errorf("proc: wait ready %s: %w", c.Addr, ErrExited)
		case <-t.C:
		}
		if wait *= 2; wait > maxWait {
			wait = maxWait
		}
	}
}

func probe(ctx context.Context, c ReadyCheck, client *http.Client) error {
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if client == nil {
		var d net.Dialer
		conn, err := d.DialContext(pctx, "tcp", c.Addr)
		if err != nil {
			return err
		}
		return conn.Close()
	}
	req, err := http.NewRequestWithContext(pctx, http.MethodGet, "http://"+c.Addr+c.HTTPPath, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}
