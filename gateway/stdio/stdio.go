package stdio

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warren-mesh/warren/gateway/cgi"
	"github.com/warren-mesh/warren/gateway/config"
	"github.com/warren-mesh/warren/internal/listenq"
	"github.com/warren-mesh/warren/internal/logging"
	"github.com/warren-mesh/warren/proc"
)

// Errors callers may test for.
var (
	ErrClosed    = errors.New("stdio: server closed")
	ErrTimeout   = errors.New("stdio: request deadline exceeded")
	ErrTooLarge  = errors.New("stdio: worker output larger than the limit")
	ErrIdle      = errors.New("stdio: connection idle")
	errAbandoned = errors.New("stdio: client went away")
)

// Server runs a worker program per connection (stream mode) or per HTTP
// request (http mode). Set the fields, then use Serve, ServeConn or
// ServeHTTP; Close stops every child and waits for every handler. A Server
// must not be copied after first use.
type Server struct {
	// The worker: program (looked up in PATH without a slash), arguments,
	// variables added to this process's environment, working directory.
	Path string
	Args []string
	Env  []string
	Dir  string

	// Mode is config.StdioStream (default), config.StdioHTTP or
	// config.StdioAuto; it matters to Serve only.
	Mode string

	// RequestTimeout bounds one HTTP request end to end; the child is killed
	// when it passes (504 if no header was sent yet). 0 = none.
	RequestTimeout time.Duration
	// MaxOutput caps the bytes one HTTP request's child may write; the child
	// is killed beyond. 0 = unlimited.
	MaxOutput int64
	// MaxBody caps an HTTP request body (413). 0 = unlimited.
	MaxBody int64
	// ConnIdleTimeout closes a stream connection, and kills its child,
	// after that long without a byte either way. In http mode it is the
	// keep-alive idle timeout. 0 = none.
	ConnIdleTimeout time.Duration
	// ReadHeaderTimeout bounds reading an HTTP request's headers (and, in
	// auto mode, the first bytes used to pick the mode). 0 = 10s.
	ReadHeaderTimeout time.Duration
	// SniffTimeout is how long auto mode waits for the client's first bytes
	// before it assumes a server-speaks-first stream protocol. 0 = 300ms.
	SniffTimeout time.Duration
	// Grace is the SIGTERM -> SIGKILL delay when a child is stopped. 0 = 2s:
	// a CGI worker that outlived its request has nothing left to save.
	Grace time.Duration

	// Stderr receives every child's standard error (a log ring). nil = discarded.
	Stderr io.Writer
	// Middleware wraps the http-mode handler inside Serve (CORS, metrics).
	Middleware func(http.Handler) http.Handler
	// OnStart and OnExit, if set, are called when a child starts and after
	// it has exited (code as proc.Process.ExitCode).
	OnStart func()
	OnExit  func(code int, ran time.Duration)
	// OnStartError, if set, is called when a worker cannot be started (no
	// such program, not executable); not when the request's own context
	// ended first.
	OnStartError func(error)
	// Log receives the server's own messages. nil = discarded.
	Log *slog.Logger

	once    sync.Once
	base    context.Context // cancelled by Close: stops every child
	cancel  context.CancelFunc
	wg      sync.WaitGroup // handlers and connection goroutines
	closed  atomic.Bool
	mu      sync.Mutex
	httpSrv *http.Server
	conns   *listenq.Listener // one http.Server handles the HTTP connections of a listener whose other connections are streams
}

func (s *Server) init() {
	s.once.Do(func() {
		s.base, s.cancel = context.WithCancel(context.Background())
		if s.Log == nil {
			s.Log = logging.Discard()
		}
	})
}

func (s *Server) grace() time.Duration {
	if s.Grace > 0 {
		return s.Grace
	}
	return 2 * time.Second
}

// enter registers a handler; it fails once Close has begun.
func (s *Server) enter() bool {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return false
	}
	s.wg.Add(1)
	return true
}

// Close stops every running child (SIGTERM, then SIGKILL after Grace) and
// waits until every handler and connection has ended, or ctx ends.
func (s *Server) Close(ctx context.Context) error {
	s.init()
	s.mu.Lock()
	s.closed.Store(true)
	srv, cl := s.httpSrv, s.conns
	s.mu.Unlock()
	s.cancel()
	if cl != nil {
		cl.Close()
	}
	if srv != nil {
		_ = srv.Close()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stdio: close: %w", ctx.Err())
	}
}

// start runs the worker with the given streams under ctx (and the server's
// life). extraEnv is appended to the environment.
func (s *Server) start(ctx context.Context, env []string, stdin, stdout *os.File) (*proc.Process, error) {
	p, err := proc.Start(ctx, proc.Spec{
		Path:   s.Path,
		Args:   s.Args,
		Env:    env,
		Dir:    s.Dir,
		Stdin:  stdin,
		Stdout: stdout,
		Stderr: s.Stderr,
		Grace:  s.grace(),
	})
	if err != nil {
		if s.OnStartError != nil && ctx.Err() == nil {
			s.OnStartError(err)
		}
		return nil, fmt.Errorf("stdio: %w", err)
	}
	if s.OnStart != nil {
		s.OnStart()
	}
	return p, nil
}

func (s *Server) exited(p *proc.Process, started time.Time) {
	<-p.Done()
	if s.OnExit != nil {
		s.OnExit(p.ExitCode(), time.Since(started))
	}
}

// environ is this process's environment plus Env.
func (s *Server) environ() []string {
	return append(os.Environ(), s.Env...)
}

// childContext is ctx, also cancelled when the server closes.
func (s *Server) childContext(ctx context.Context) (context.Context, context.CancelCauseFunc) {
	cctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(s.base, func() { cancel(ErrClosed) })
	return cctx, func(err error) { stop(); cancel(err) }
}

// ServeConn bridges one connection to a new child: bytes from the client go
// to its stdin, its stdout goes to the client. The client's end of stream
// (half-close) closes the child's stdin; the child's end of output
// half-closes the connection. The child is killed when the client goes away
// (a write fails), when the connection idles past ConnIdleTimeout, when ctx
// ends or when the server closes. ServeConn closes c and returns after the
// child has exited, with nil for a child that exited 0.
func (s *Server) ServeConn(ctx context.Context, c net.Conn) error {
	if !s.enter() {
		c.Close()
		return ErrClosed
	}
	defer s.wg.Done()
	defer c.Close()
	cctx, cancel := s.childContext(ctx)
	defer cancel(nil)

	inR, inW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("stdio: pipe: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return fmt.Errorf("stdio: pipe: %w", err)
	}
	env := s.environ()
	if h, pt, err := net.SplitHostPort(c.RemoteAddr().String()); err == nil {
		env = append(env, "REMOTE_ADDR="+h, "REMOTE_PORT="+pt) // as inetd and ucspi-tcp tell their children
	}
	started := time.Now()
	p, err := s.start(cctx, env, inR, outW)
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return err
	}

	var last atomic.Int64
	touch := func() { last.Store(time.Now().UnixNano()) }
	touch()
	var wg sync.WaitGroup
	outDone := make(chan struct{})
	wg.Add(2)
	go func() { // client -> child stdin
		defer wg.Done()
		defer inW.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				touch()
				if _, werr := inW.Write(buf[:n]); werr != nil {
					return // the child closed its stdin; its output may continue
				}
			}
			if err != nil {
				return
			}
		}
	}()
	go func() { // child stdout -> client
		defer wg.Done()
		defer close(outDone)
		defer outR.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := outR.Read(buf)
			if n > 0 {
				touch()
				if _, werr := c.Write(buf[:n]); werr != nil {
					cancel(errAbandoned) // the client is gone: stop the child
					return
				}
			}
			if err != nil {
				if cw, ok := c.(interface{ CloseWrite() error }); ok {
					_ = cw.CloseWrite()
				}
				return
			}
		}
	}()
	var idled atomic.Bool
	if s.ConnIdleTimeout > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(max(s.ConnIdleTimeout/4, time.Millisecond))
			defer t.Stop()
			for {
				select {
				case <-outDone:
					return
				case <-t.C:
					if time.Since(time.Unix(0, last.Load())) >= s.ConnIdleTimeout {
						idled.Store(true)
						cancel(ErrIdle)
						return
					}
				}
			}
		}()
	}
	s.exited(p, started)
	// The child is gone; let its last output reach the client unless the
	// connection is being torn down (ctx, shutdown, idle timeout).
	select {
	case <-outDone:
	case <-cctx.Done():
	}
	c.Close() // unblocks the client reader (and a copier stuck on a dead client)
	wg.Wait()
	switch {
	case idled.Load():
		return ErrIdle
	case context.Cause(cctx) == ErrClosed:
		return ErrClosed
	case ctx.Err() != nil:
		return fmt.Errorf("stdio: %w", ctx.Err())
	case p.Err() != nil:
		return fmt.Errorf("stdio: worker: %w", p.Err())
	}
	return nil
}

// hopHeaders are not passed from a worker's CGI header to the client: they
// describe one connection, and net/http manages them.
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade", "Te", "Trailer", "Content-Length"}

// ServeHTTP runs one child per request as a CGI/1.1 program (RFC 3875): the
// request's meta-variables in its environment, the body on its stdin. The
// child's CGI header is honoured (Status, Content-Type, Location, others)
// and its body is streamed to the client as it is produced, flushed after
// every read. The child is killed when RequestTimeout passes (504 if nothing
// was sent yet, else the response is cut), when its output passes
// MaxOutput, when the client goes away, when the server closes, and Grace
// after its output has ended if it has not exited by then (the response is
// complete at the end of its output).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		http.Error(w, "503 service unavailable: gateway shutting down", http.StatusServiceUnavailable)
		return
	}
	defer s.wg.Done()
	if s.MaxBody > 0 && r.ContentLength > s.MaxBody {
		http.Error(w, fmt.Sprintf("413 request body larger than %d bytes", s.MaxBody), http.StatusRequestEntityTooLarge)
		return
	}
	ctx := r.Context()
	var cancelT context.CancelFunc
	if s.RequestTimeout > 0 {
		ctx, cancelT = context.WithTimeoutCause(ctx, s.RequestTimeout, ErrTimeout)
		defer cancelT()
	}
	cctx, cancel := s.childContext(ctx)
	defer cancel(nil)

	var stdin *os.File
	var inW *os.File
	hasBody := r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
	if hasBody {
		var err error
		stdin, inW, err = os.Pipe()
		if err != nil {
			http.Error(w, "500 cannot create a pipe", http.StatusInternalServerError)
			return
		}
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		if hasBody {
			stdin.Close()
			inW.Close()
		}
		http.Error(w, "500 cannot create a pipe", http.StatusInternalServerError)
		return
	}
	env := cgi.Env(r, cgi.EnvOptions{Base: s.environ()})
	started := time.Now()
	p, err := s.start(cctx, env, stdin, outW)
	outW.Close()
	if stdin != nil {
		stdin.Close()
	}
	if err != nil {
		outR.Close()
		if inW != nil {
			inW.Close()
		}
		s.Log.Error("stdio: start worker", logging.KeyErr, err)
		http.Error(w, "502 bad gateway: the worker could not be started", http.StatusBadGateway)
		return
	}
	defer outR.Close()

	// Feed the body; a body larger than MaxBody ends the request with 413
	// if nothing was sent yet.
	var feed sync.WaitGroup
	var bodyTooBig atomic.Bool
	if hasBody {
		body := r.Body
		if s.MaxBody > 0 {
			body = http.MaxBytesReader(w, r.Body, s.MaxBody)
		}
		feed.Add(1)
		go func() {
			defer feed.Done()
			defer inW.Close()
			_, err := io.Copy(inW, body)
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				bodyTooBig.Store(true)
				cancel(errTooBigBody)
			}
		}()
	}
	rc := http.NewResponseController(w)
	defer func() {
		// Unblock the body feeder if it waits on a slow client, then wait for it.
		if hasBody {
			inW.Close()
			_ = rc.SetReadDeadline(time.Now())
			feed.Wait()
		}
		s.exited(p, started)
	}()

	br := bufio.NewReaderSize(outR, 32<<10)
	resp, err := cgi.ReadResponse(br, 0)
	if err != nil {
		cancel(err)
		<-p.Done()
		switch cause := context.Cause(cctx); {
		case bodyTooBig.Load():
			http.Error(w, fmt.Sprintf("413 request body larger than %d bytes", s.MaxBody), http.StatusRequestEntityTooLarge)
		case errors.Is(cause, ErrTimeout):
			http.Error(w, fmt.Sprintf("504 gateway timeout: the worker sent no response within %s", s.RequestTimeout), http.StatusGatewayTimeout)
		case errors.Is(cause, ErrClosed):
			http.Error(w, "503 service unavailable: gateway shutting down", http.StatusServiceUnavailable)
		case err == io.EOF:
			http.Error(w, fmt.Sprintf("502 bad gateway: the worker exited (status %d) without a response", p.ExitCode()), http.StatusBadGateway)
		default:
			// The details quote the worker's output, which may hold what the
			// client must not see (a stack trace, a variable): log only.
			s.Log.Warn("stdio: bad worker response", logging.KeyErr, err)
			http.Error(w, "502 bad gateway: the worker's response header is malformed (details in the gateway log)", http.StatusBadGateway)
		}
		return
	}
	h := w.Header()
	for k, vs := range resp.Header {
		h[k] = vs
	}
	for _, k := range hopHeaders {
		h.Del(k)
	}
	w.WriteHeader(resp.Status)
	_ = rc.Flush()

	var written int64
	buf := make([]byte, 32<<10)
	for {
		n, rerr := br.Read(buf)
		if n > 0 {
			if s.MaxOutput > 0 && written+int64(n) > s.MaxOutput {
				n = int(s.MaxOutput - written)
				cancel(ErrTooLarge)
			}
			if n > 0 {
				if _, werr := w.Write(buf[:n]); werr != nil {
					cancel(errAbandoned)
					return
				}
				written += int64(n)
				_ = rc.Flush()
			}
			if context.Cause(cctx) == ErrTooLarge {
				s.Log.Warn("stdio: worker output cut", logging.KeyReason, ErrTooLarge.Error(), "limit", s.MaxOutput)
				panic(http.ErrAbortHandler) // cut the response visibly: no clean end of body
			}
		}
		if rerr != nil {
			break
		}
	}
	// The body is complete once the child's output ends. A child that
	// closed its stdout but lingers (cleanup work, a stray wait) would hold
	// the response open until RequestTimeout (forever without one) and then
	// see it cut: give it Grace to exit, then stop it, and end the response
	// cleanly.
	lingerT := time.NewTimer(s.grace())
	select {
	case <-p.Done():
	case <-lingerT.C:
		cancel(errLingered)
		<-p.Done()
	}
	lingerT.Stop()
	if cause := context.Cause(cctx); cause != nil && cause != errLingered {
		// The deadline (or shutdown) killed the child mid-body: do not let
		// the truncated body look complete.
		panic(http.ErrAbortHandler)
	}
}

var (
	errTooBigBody = errors.New("stdio: request body too large")
	errLingered   = errors.New("stdio: worker closed its output but did not exit")
)

// Serve accepts connections on l until ctx ends or Close is called, and
// serves each according to Mode. In http and auto mode, HTTP connections are
// handled by an internal http.Server with ReadHeaderTimeout and
// ConnIdleTimeout, whose handler is Middleware(s). Serve closes l.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	if !s.enter() {
		l.Close()
		return ErrClosed
	}
	defer s.wg.Done()
	mode := s.Mode
	if mode == "" {
		mode = config.StdioStream
	}
	var cl *listenq.Listener
	if mode != config.StdioStream {
		cl = listenq.New(l.Addr())
		var h http.Handler = s
		if s.Middleware != nil {
			h = s.Middleware(s)
		}
		rht := s.ReadHeaderTimeout
		if rht <= 0 {
			rht = 10 * time.Second
		}
		srv := &http.Server{
			Handler:           h,
			ReadHeaderTimeout: rht,
			IdleTimeout:       s.ConnIdleTimeout,
			ErrorLog:          slog.NewLogLogger(s.Log.Handler(), slog.LevelDebug),
		}
		s.mu.Lock()
		s.httpSrv, s.conns = srv, cl
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			_ = srv.Serve(cl)
		}()
	}
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	stopBase := context.AfterFunc(s.base, func() { l.Close() })
	defer stopBase()
	for {
		c, err := l.Accept()
		if err != nil {
			if cl != nil {
				cl.Close()
				s.mu.Lock()
				srv := s.httpSrv
				s.mu.Unlock()
				_ = srv.Close()
			}
			if ctx.Err() != nil || s.closed.Load() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("stdio: accept: %w", err)
		}
		switch mode {
		case config.StdioHTTP:
			cl.Push(c)
		case config.StdioAuto:
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				sc, isHTTP, err := Sniff(c, s.sniffTimeout(), s.ReadHeaderTimeout)
				if err != nil {
					c.Close()
					return
				}
				if isHTTP {
					cl.Push(sc)
					return
				}
				if err := s.ServeConn(ctx, sc); err != nil {
					s.Log.Debug("stdio: stream connection", logging.KeyErr, err)
				}
			}()
		default:
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				if err := s.ServeConn(ctx, c); err != nil {
					s.Log.Debug("stdio: stream connection", logging.KeyErr, err)
				}
			}()
		}
	}
}

func (s *Server) sniffTimeout() time.Duration {
	if s.SniffTimeout > 0 {
		return s.SniffTimeout
	}
	return 300 * time.Millisecond
}

var httpMethods = []string{"GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE "}

// Sniff waits up to wait for the client's first bytes and reports whether
// they begin an HTTP/1 request. The returned conn replays what was read.
// A client that sends nothing within wait is a stream client (the server may
// be expected to speak first). maxWait bounds how long a client that has
// started a method name may take to finish it.
func Sniff(c net.Conn, wait, maxWait time.Duration) (net.Conn, bool, error) {
	if maxWait <= 0 {
		maxWait = 10 * time.Second
	}
	br := bufio.NewReaderSize(c, 4096)
	_ = c.SetReadDeadline(time.Now().Add(wait))
	_, err := br.Peek(1)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			_ = c.SetReadDeadline(time.Time{})
			return &peekedConn{c, br}, false, nil
		}
		return nil, false, fmt.Errorf("stdio: sniff: %w", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(maxWait))
	isHTTP := false
	for n := 1; n <= 8; n++ {
		b, err := br.Peek(n)
		if err != nil {
			break
		}
		prefixOfSome := false
		for _, m := range httpMethods {
			if strings.HasPrefix(m, string(b)) {
				prefixOfSome = true
			}
			if string(b) == m {
				isHTTP = true
			}
		}
		if isHTTP || !prefixOfSome {
			break
		}
	}
	_ = c.SetReadDeadline(time.Time{})
	return &peekedConn{c, br}, isHTTP, nil
}

type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (p *peekedConn) Read(b []byte) (int, error) { return p.r.Read(b) }

func (p *peekedConn) CloseWrite() error {
	if cw, ok := p.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
