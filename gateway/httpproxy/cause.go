package httpproxy

import (
	"sync/atomic"
	"time"

	"github.com/warren-mesh/warren/internal/logging"
)

// causeLogEvery bounds how often a route logs the causes it kept out of
// answers: a backend that is down fails every request, and one line a
// second (with how many were left out) says as much as a line each.
const causeLogEvery = time.Second

// causeLog is a Proxy's rate limit for those lines.
type causeLog struct {
	last    atomic.Int64 // unix nanoseconds of the last line
	skipped atomic.Int64 // causes not logged since
}

// cause is the text of an error answer the gateway writes itself: kind,
// then err's text when the route shows causes (Options.ShowCause);
// otherwise kind and a pointer to the log, where err goes.
func (p *Proxy) cause(kind string, err error) string {
	if p.opt.ShowCause {
		return kind + ": " + err.Error()
	}
	now := time.Now().UnixNano()
	last := p.causes.last.Load()
	if now-last >= int64(causeLogEvery) && p.causes.last.CompareAndSwap(last, now) {
		p.log.Warn("gateway error answer", "answer", kind, logging.KeyErr, err,
			"not_logged_before", p.causes.skipped.Swap(0))
	} else {
		p.causes.skipped.Add(1)
	}
	return kind + " (the cause is in the gateway's log)"
}
