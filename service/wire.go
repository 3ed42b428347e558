package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warren-mesh/warren/internal/logging"
	"github.com/warren-mesh/warren/service/codec"
)

// MaxStreams is how many streams a client may keep open on one
// connection; opening more closes the connection (a client that forgets
// to close its streams would otherwise grow the server without bound).
const MaxStreams = 1 << 16

// maxPending is how many encoded bytes may wait for the socket before
// senders block.
const maxPending = 4 << 20

// wireConn runs the frame protocol over one byte-stream connection, on the
// client (svc == nil) or the server.
//
// Writes are batched without a hand-off on the quiet path: a sender appends
// its frame to the pending buffer under wmu; if nobody is writing it
// becomes the flusher and writes the buffer itself; frames that arrive
// meanwhile accumulate and are written in one write(2) by the writer
// goroutine, which takes over the flusher role when the inline write ends
// with more pending. So a sequential caller pays no goroutine switch and a
// busy connection pays one syscall per batch.
//
// Lock order: smu and wmu are never held together; Stream.mu is a leaf.
type wireConn struct {
	nc       net.Conn
	log      *slog.Logger
	maxFrame int
	svc      *service // server side; nil on the client
	credOK   bool
	cred     PeerCred
	ctx      context.Context // canceled when the connection closes
	cancel   context.CancelFunc

	wmu         sync.Mutex
	wcond       sync.Cond
	pend, spare *bytes.Buffer
	flushing    bool
	corked      bool // the reader is working through buffered frames: hold replies
	werr        error
	wakeW       chan struct{}

	rd         *codec.Reader // owned by the goroutine currently reading
	readTok    chan struct{} // client: holding its token = being the reader
	waiting    atomic.Int32  // client: goroutines waiting in recv
	inline     atomic.Uint64 // server: run number<<2 | inlineReading, inlineRunning or inlineStolen
	runStart   atomic.Int64  // server: when the current inline run began, ns since epoch (monotonic)
	epoch      time.Time
	inlineSt   atomic.Pointer[Stream] // server: the stream of the current inline run
	watchOn    atomic.Bool            // server: the watch timer is armed
	lastRun    atomic.Uint64          // server: the run number the watch saw when it last fired
	watchTimer *time.Timer

	smu     sync.Mutex
	streams map[uint32]*Stream
	nextID  uint32
	free    []*Stream // client: idle streams for Conn.SendRecv

	closeOnce sync.Once
	closed    chan struct{}
	err       error // why it closed; read after closed is closed
	wg        sync.WaitGroup
	onClose   func(*wireConn)
}

func newWireConn(nc net.Conn, log *slog.Logger, maxFrame int, svc *service) *wireConn {
	if maxFrame <= 0 {
		maxFrame = codec.DefaultMaxFrame
	}
	w := &wireConn{
		nc: nc, log: log, maxFrame: maxFrame, svc: svc,
		pend: new(bytes.Buffer), spare: new(bytes.Buffer),
		wakeW: make(chan struct{}, 1), streams: make(map[uint32]*Stream),
		closed: make(chan struct{}),
	}
	w.wcond.L = &w.wmu
	w.ctx, w.cancel = context.WithCancel(context.Background())
	return w
}

// start runs the reader and writer goroutines; wait waits for them.
func (w *wireConn) start() {
	w.rd = codec.NewReader(w.nc, w.maxFrame)
	if w.svc != nil {
		w.epoch = time.Now()
		w.watchTimer = time.AfterFunc(time.Hour, w.watch)
		w.watchTimer.Stop()
	}
	if w.svc == nil {
		// The client reads on the goroutines that wait for replies.
		w.readTok = make(chan struct{}, 1)
		w.readTok <- struct{}{}
		w.wg.Add(1)
		go func() { defer w.wg.Done(); w.writeLoop() }()
		return
	}
	w.wg.Add(2)
	go func() { defer w.wg.Done(); w.writeLoop() }()
	go func() { defer w.wg.Done(); w.readLoop() }()
}

func (w *wireConn) wait() { w.wg.Wait() }

// close shuts the connection down with err as the reason; every stream's
// pending and future Recv returns it.
func (w *wireConn) close(err error) {
	w.closeOnce.Do(func() {
		w.err = err
		close(w.closed)
		w.nc.Close()
		w.cancel()
		w.wmu.Lock()
		if w.werr == nil {
			w.werr = err
		}
		w.wcond.Broadcast()
		w.wmu.Unlock()
		w.smu.Lock()
		streams := w.streams
		w.streams = map[uint32]*Stream{}
		w.free = nil
		w.smu.Unlock()
		for _, s := range streams {
			s.connClosed(err)
		}
		if w.onClose != nil {
			w.onClose(w)
		}
	})
}

func (w *wireConn) closeErr() error {
	select {
	case <-w.closed:
		return w.err
	default:
		return nil
	}
}

// ---- writing ----

func (w *wireConn) sendValue(ctx context.Context, id uint32, v any) error {
	if e, ok := v.(error); ok {
		return w.writeFrame(ctx, id, codec.KindErr, "", toErrRecord(e))
	}
	ti := lookupType(reflect.TypeOf(v))
	if ti == nil {
		err := fmt.Errorf("service: send %T: %w (call service.RegisterType)", v, ErrNotRegistered)
		if w.svc != nil {
			// Tell the client rather than leave it waiting.
			_ = w.writeFrame(ctx, id, codec.KindErr, "", toErrRecord(err))
		}
		return err
	}
	return w.writeFrame(ctx, id, codec.KindMsg, ti.name, v)
}

func (w *wireConn) sendClose(id uint32) error {
	return w.writeFrame(context.Background(), id, codec.KindClose, "", nil)
}

func (w *wireConn) writeFrame(ctx context.Context, id uint32, kind codec.Kind, typ string, payload any) error {
	w.wmu.Lock()
	for w.werr == nil && w.pend.Len() >= maxPending {
		if ctx.Err() != nil {
			w.wmu.Unlock()
			return fmt.Errorf("service: send: %w", ctx.Err())
		}
		w.wcond.Wait()
	}
	if w.werr != nil {
		err := w.werr
		w.wmu.Unlock()
		return fmt.Errorf("service: send: %w", err)
	}
	start, err := codec.Begin(w.pend, id, kind, typ)
	if err != nil {
		w.wmu.Unlock()
		return fmt.Errorf("service: send: %w", err)
	}
	if payload != nil {
		if err := encMode.MarshalToBuffer(payload, w.pend); err != nil {
			w.pend.Truncate(start)
			w.wmu.Unlock()
			return fmt.Errorf("service: send %s: encode: %w", typ, err)
		}
	}
	if err := codec.End(w.pend, start, w.maxFrame); err != nil {
		w.wmu.Unlock()
		return fmt.Errorf("service: send %s: %w", typ, err)
	}
	if w.flushing || (w.corked && w.pend.Len() < 64<<10) {
		w.wmu.Unlock()
		return nil
	}
	if w.waiting.Load() > 0 && w.pend.Len() < 64<<10 {
		// Other calls are in flight, so more frames are coming: let the
		// writer goroutine send them together.
		w.flushing = true
		w.wmu.Unlock()
		select {
		case w.wakeW <- struct{}{}:
		default:
		}
		return nil
	}
	// Become the flusher: write inline, hand the rest to the writer.
	w.flushInline()
	return nil
}

// writePending swaps the pending frames out and writes them with wmu
// released, so senders can queue more meanwhile. It is called, and
// returns, with wmu held.
func (w *wireConn) writePending() error {
	buf := w.pend
	w.pend = w.spare
	w.wmu.Unlock()
	_, err := w.nc.Write(buf.Bytes())
	buf.Reset()
	w.wmu.Lock()
	w.spare = buf
	return err
}

// flushInline writes the pending frames on this goroutine, then hands any
// queued meanwhile to the writer goroutine. It is called with wmu held and
// nobody flushing, and returns with wmu released.
func (w *wireConn) flushInline() {
	w.flushing = true
	if err := w.writePending(); err != nil {
		w.flushing = false
		w.wcond.Broadcast()
		w.wmu.Unlock()
		w.close(fmt.Errorf("%w: write: %v", ErrClosed, err))
		return
	}
	if w.pend.Len() > 0 && w.werr == nil {
		select {
		case w.wakeW <- struct{}{}:
		default:
		}
	} else {
		w.flushing = false
	}
	w.wcond.Broadcast()
	w.wmu.Unlock()
}

// cork holds frames written from now on in the buffer (the reader has
// more frames to work through; their replies go out in one write).
func (w *wireConn) cork() {
	w.wmu.Lock()
	w.corked = true
	w.wmu.Unlock()
}

// writeLoop takes over flushing when an inline writer leaves frames behind.
func (w *wireConn) writeLoop() {
	for {
		select {
		case <-w.wakeW:
		case <-w.closed:
			return
		}
		// Let the goroutines that are about to send (woken by the same
		// batch of replies) add their frames first.
		runtime.Gosched()
		w.wmu.Lock()
		for w.pend.Len() > 0 && w.werr == nil {
			err := w.writePending()
			w.wcond.Broadcast()
			if err != nil {
				w.flushing = false
				w.wmu.Unlock()
				w.close(fmt.Errorf("%w: write: %v", ErrClosed, err))
				return
			}
		}
		w.flushing = false
		w.wcond.Broadcast()
		w.wmu.Unlock()
	}
}

// goAway tells the peer why the connection is about to close and waits
// (at most a second) for that to be written.
func (w *wireConn) goAway(reason error) {
	_ = w.nc.SetWriteDeadline(time.Now().Add(time.Second))
	if err := w.writeFrame(context.Background(), 0, codec.KindGoAway, "", toErrRecord(reason)); err != nil {
		return
	}
	w.wmu.Lock()
	for w.werr == nil && (w.flushing || w.pend.Len() > 0) {
		w.wcond.Wait()
	}
	w.wmu.Unlock()
}

// ---- reading ----

// readLoop reads and dispatches frames. On the server, a known message
// that can start at once runs inline, on this goroutine: no hand-off, and
// its reply joins the batch. If the handler runs longer than
// inlineBudget, steal starts a new goroutine that continues reading, and
// this one exits when the handler returns. So a slow or blocking handler
// (a subscription, s.Recv) never stalls the connection for longer than
// the budget.
func (w *wireConn) readLoop() {
	corked := false
	for {
		if corked && !w.rd.HasFrame() {
			// About to block on the socket: send the replies held so far.
			w.uncorkNow()
			corked = false
		}
		f, err := w.rd.Next()
		if err == nil {
			if w.svc != nil && !corked && w.rd.HasFrame() {
				w.cork()
				corked = true
			}
			var j job
			var inline bool
			j, inline, err = w.handle(f)
			if inline && !w.runInline(j) {
				return // reading was handed to another goroutine
			}
		}
		if err != nil {
			if corked {
				w.uncorkNow()
			}
			w.readFailed(err)
			return
		}
	}
}

// readFailed closes the connection after a read or protocol error.
func (w *wireConn) readFailed(err error) {
	var fe *codec.FrameError
	switch {
	case errors.As(err, &fe):
		w.log.Warn("service: closing connection: bad frame", logging.KeyReason, err.Error(), logging.KeyPeer, w.peerString())
		w.goAway(err)
		w.close(err)
	case errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed):
		w.close(ErrClosed)
	default:
		w.close(fmt.Errorf("%w: %v", ErrClosed, err))
	}
}

// recv waits for the next item of client stream st. The client has no
// reader goroutine: a waiting goroutine takes the read token and reads
// frames itself, handing other streams' frames to their inboxes, until
// one arrives for its own stream; then it passes the token on (a waiting
// goroutine receives it). A sequential caller thus reads its reply
// straight from the socket, with no goroutine hand-off. A context that
// ends during the read interrupts it with a read deadline; the frame
// reader resumes where it was.
//
// dst is the receiver's destination: a message of its type is decoded
// straight into it (inbox.want), and the item says so (into).
func (w *wireConn) recv(ctx context.Context, st *Stream, dst any) (item, error) {
	w.waiting.Add(1)
	defer w.waiting.Add(-1)
	st.in.want(dst)
	for {
		if it, ok, err := st.in.tryPop(dst); ok || err != nil {
			return it, err
		}
		select {
		case <-w.readTok:
			err := w.readFor(ctx, st)
			w.readTok <- struct{}{}
			if err != nil {
				return st.in.leave(dst, err)
			}
		case <-st.in.signal:
		case <-ctx.Done():
			return st.in.leave(dst, ctx.Err())
		}
	}
}

var pastDeadline = time.Unix(1, 0)

// readFor reads frames until st has an item or the connection fails; it
// returns only ctx's error.
func (w *wireConn) readFor(ctx context.Context, st *Stream) error {
	if ctx.Done() != nil {
		fired := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			defer close(fired)
			_ = w.nc.SetReadDeadline(pastDeadline)
		})
		defer func() {
			if !stop() {
				<-fired
				_ = w.nc.SetReadDeadline(time.Time{})
			}
		}()
	}
	corked := false
	defer func() {
		if corked {
			w.uncorkNow()
		}
	}()
	for {
		if w.closeErr() != nil {
			return nil
		}
		if !corked && st.in.ready() {
			// The previous reader handed st its item after recv looked
			// and before it took the token: reading now could wait for
			// a frame that never comes.
			return nil
		}
		f, err := w.rd.Next()
		if err == nil {
			_, _, err = w.handle(f)
		}
		if err != nil {
			if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				continue
			}
			w.readFailed(err)
			return nil
		}
		if w.rd.HasFrame() {
			// More replies are buffered: hand them all out before passing
			// the token on, and hold the requests their owners send
			// meanwhile for one write.
			if !corked {
				w.cork()
				corked = true
			}
			continue
		}
		if corked {
			w.uncorkNow()
			corked = false
		}
	}
}

// inlineBudget is how long a handler may run on the reader goroutine
// before reading moves to a new goroutine. The watch that enforces it
// looks every watchPeriod while handlers run, so a handler that runs long
// or blocks holds the connection for at most about watchPeriod; one that
// waits for its own stream's next message (Recv) hands reading over at
// once (yieldReader). Each look wakes threads: looking every 200 µs cost
// sequential round trips 20% of their rate on a 2-core VM, every 4 ms a
// few percent.
const (
	inlineBudget = 200 * time.Microsecond
	watchPeriod  = 4 * time.Millisecond
)

// States of wireConn.inline (low two bits; the rest numbers the run, so
// that a goroutine whose run was stolen can never take reading back).
const (
	inlineReading = 0
	inlineRunning = 1
	inlineStolen  = 2
)

// runInline runs j on the reader goroutine; false means reading was handed
// over meanwhile and the caller must stop reading.
//
// It arms no timer of its own: resetting a timer to an earlier time than
// the one the idle thread of the other CPU sleeps until in the network
// poller makes the runtime wake that thread (wakeNetPoller), and one such
// cross-CPU wake-up per request cost sequential round trips a third of
// their rate. The watch timer, armed once and re-armed by itself while
// runs keep coming, checks the running handler's age instead.
func (w *wireConn) runInline(j job) bool {
	run := (w.inline.Load()>>2 + 1) << 2 // only the reader writes a new run
	w.runStart.Store(int64(time.Since(w.epoch)))
	w.inlineSt.Store(j.st)
	w.inline.Store(run | inlineRunning)
	w.armWatch()
	w.svc.srv.run(j)
	w.svc.srv.pool.giveBack()
	// Failing means stolen: a new reader has taken over.
	return w.inline.CompareAndSwap(run|inlineRunning, run|inlineReading)
}

// yieldReader hands reading to a new goroutine when the inline run is
// st's handler, about to wait for st's next message: only reading can
// bring it, and this goroutine is the reader.
func (w *wireConn) yieldReader(st *Stream) {
	cur := w.inline.Load()
	if cur&3 == inlineRunning && w.inlineSt.Load() == st && w.inline.CompareAndSwap(cur, cur&^3|inlineStolen) {
		w.steal()
	}
}

// armWatch starts the watch unless it is running.
func (w *wireConn) armWatch() {
	if !w.watchOn.Load() && w.watchOn.CompareAndSwap(false, true) {
		w.watchTimer.Reset(watchPeriod)
	}
}

// watch runs on the watch timer. It steals reading from a handler that has
// run longer than inlineBudget, waits out the rest of the budget of one
// that has not, keeps watching while runs come, and stops after a period
// with none.
func (w *wireConn) watch() {
	select {
	case <-w.closed:
		w.watchOn.Store(false)
		return
	default:
	}
	cur := w.inline.Load()
	if cur&3 == inlineRunning {
		ran := time.Duration(int64(time.Since(w.epoch)) - w.runStart.Load())
		if ran < inlineBudget {
			w.watchTimer.Reset(inlineBudget - ran)
			return
		}
		if w.inline.CompareAndSwap(cur, cur&^3|inlineStolen) {
			w.watchOn.Store(false) // the new reader's runs arm it again
			w.steal()
			return
		}
		cur = w.inline.Load() // that run ended meanwhile
	}
	if cur>>2 != w.lastRun.Swap(cur>>2) {
		w.watchTimer.Reset(watchPeriod)
		return
	}
	w.watchOn.Store(false)
	// A run that began after the load above may have seen the watch still
	// on and not armed it.
	if w.inline.Load()&3 == inlineRunning {
		w.armWatch()
	}
}

// steal hands reading to a new goroutine: the current one is running a
// handler that overran its budget (the watch has marked its run stolen),
// and exits when that handler returns.
func (w *wireConn) steal() {
	w.uncorkNow()
	select {
	case <-w.closed:
		return
	default:
	}
	w.wg.Add(1) // the stolen reader is still counted, so this is no Add-after-Wait
	go func() {
		defer w.wg.Done()
		w.readLoop()
	}()
}

// uncorkNow writes what cork held, on this goroutine if nobody is writing.
func (w *wireConn) uncorkNow() {
	w.wmu.Lock()
	w.corked = false
	if w.flushing || w.pend.Len() == 0 || w.werr != nil {
		w.wmu.Unlock()
		return
	}
	w.flushInline()
}

func (w *wireConn) peerString() string {
	if w.credOK {
		return fmt.Sprintf("pid=%d uid=%d", w.cred.PID, w.cred.UID)
	}
	if a := w.nc.RemoteAddr(); a != nil {
		return a.String()
	}
	return "?"
}

func (w *wireConn) handle(f codec.Frame) (job, bool, error) {
	switch f.Kind {
	case codec.KindMsg:
		if f.Stream == 0 {
			return job{}, false, &codec.FrameError{Err: ErrMalformed, Reason: "message on stream 0"}
		}
		ti := lookupName(f.Type)
		if ti == nil {
			return job{}, false, &codec.FrameError{Err: ErrUnknownType, Reason: fmt.Sprintf("type %q on stream %d", f.Type, f.Stream)}
		}
		if w.svc == nil { // the client: into the stream's inbox
			var err error
			if st := w.stream(f.Stream); st != nil {
				err = st.in.pushMsg(ti, f.Payload)
			} else {
				_, _, err = decodeMsg(ti, f.Payload) // checked all the same: a malformed frame closes the connection
			}
			if err != nil {
				return job{}, false, &codec.FrameError{Err: ErrMalformed, Reason: fmt.Sprintf("%s payload: %v", ti.name, err)}
			}
			return job{}, false, nil
		}
		v, byPtr, err := decodeMsg(ti, f.Payload)
		if err != nil {
			return job{}, false, &codec.FrameError{Err: ErrMalformed, Reason: fmt.Sprintf("%s payload: %v", ti.name, err)}
		}
		st := w.serverStream(f.Stream)
		if st == nil {
			if w.closeErr() != nil {
				return job{}, false, nil // connection closing
			}
			return job{}, false, &codec.FrameError{Err: ErrMalformed, Reason: fmt.Sprintf("more than %d open streams", MaxStreams)}
		}
		j, inline, err := w.svc.deliver(st, v, byPtr, true)
		if err != nil {
			return job{}, false, nil // server closing
		}
		return j, inline, nil
	case codec.KindErr:
		var rec errRecord
		if err := decMode.Unmarshal(f.Payload, &rec); err != nil {
			return job{}, false, &codec.FrameError{Err: ErrMalformed, Reason: fmt.Sprintf("error record: %v", err)}
		}
		if st := w.stream(f.Stream); st != nil {
			st.in.push(item{err: fromErrRecord(rec)})
		}
	case codec.KindClose:
		w.smu.Lock()
		st := w.streams[f.Stream]
		delete(w.streams, f.Stream)
		w.smu.Unlock()
		if st != nil {
			st.remoteClosed()
		}
	case codec.KindGoAway:
		var rec errRecord
		_ = decMode.Unmarshal(f.Payload, &rec)
		if rec.Msg == "" {
			rec.Msg = "no reason given"
		}
		err := fmt.Errorf("service: %w by peer: %w", ErrClosed, fromErrRecord(rec))
		w.log.Info("service: peer closed connection", logging.KeyReason, rec.Msg)
		w.close(err)
		return job{}, false, io.EOF // stop reading without another goaway
	}
	return job{}, false, nil
}

func (w *wireConn) stream(id uint32) *Stream {
	w.smu.Lock()
	st := w.streams[id]
	w.smu.Unlock()
	return st
}

// serverStream returns the server's stream for id, creating it.
func (w *wireConn) serverStream(id uint32) *Stream {
	w.smu.Lock()
	defer w.smu.Unlock()
	if st, ok := w.streams[id]; ok {
		return st
	}
	if w.closeErr() != nil || len(w.streams) >= MaxStreams {
		return nil
	}
	st := &Stream{id: id, server: true, wc: w, svc: w.svc, parent: w.ctx, credOK: w.credOK, cred: w.cred}
	st.init()
	w.streams[id] = st
	return st
}

// newStream opens a client stream.
func (w *wireConn) newStream() *Stream {
	st := &Stream{wc: w}
	st.init()
	w.smu.Lock()
	if err := w.closeErr(); err != nil {
		w.smu.Unlock()
		st.connClosed(err)
		return st
	}
	w.nextID++
	st.id = w.nextID
	w.streams[st.id] = st
	w.smu.Unlock()
	return st
}

func (w *wireConn) dropStream(st *Stream) {
	w.smu.Lock()
	if w.streams[st.id] == st {
		delete(w.streams, st.id)
	}
	w.smu.Unlock()
}

// getStream and putStream keep idle client streams for Conn.SendRecv.
func (w *wireConn) getStream() *Stream {
	w.smu.Lock()
	if n := len(w.free); n > 0 {
		st := w.free[n-1]
		w.free = w.free[:n-1]
		w.smu.Unlock()
		return st
	}
	w.smu.Unlock()
	return w.newStream()
}

func (w *wireConn) putStream(st *Stream) {
	w.smu.Lock()
	if w.streams[st.id] == st && len(w.free) < 1024 {
		w.free = append(w.free, st)
		w.smu.Unlock()
		return
	}
	w.smu.Unlock()
	st.Close()
}
