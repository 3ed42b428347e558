// Package admin owns the gateway's admin HTTP API: status, logs, kill,
// get/put/validate config, and (optionally) metrics, served on loopback or a
// unix socket against a Controller (the engine).
//
// No web page can drive it. Every request must pass, in order:
//   - Host: an IP literal, "localhost" or a configured name (a DNS-rebinding
//     page arrives with its own domain name as Host);
//   - Origin: absent, the API's own origin, or a trusted origin (a foreign
//     page's request carries its origin);
//   - Authorization: "Bearer <token>", compared in constant time;
//   - Content-Type: application/json for every request that changes state
//     (the content types a page may send cross-origin without a preflight,
//     form and text/plain, are refused, so CSRF cannot forge a body).
//
// Listening on a non-loopback address without a token is refused.
package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/warren-mesh/warren/gateway/config"
	"github.com/warren-mesh/warren/internal/logging"
)

// Controller is what the admin API drives: the gateway engine, or a fake in tests.
type Controller interface {
	Status() any
	Logs(ref string) ([]string, error)
	Kill(ref string) error
	Config() config.Config
	Reload(config.Config) error
}

// Errors.
var (
	ErrNoToken = errors.New("admin: refusing to listen on a non-loopback address without a token")
)

// Server is the admin API. Set the fields, then Start; Close stops it.
type Server struct {
	Controller Controller
	// Listen is "host:port" (port 0 picks one) or "unix:/path".
	Listen string
	// Token is the bearer token. Empty disables authentication, which Start
	// refuses unless Listen is loopback or a unix socket.
	Token string
	// ConfigPath is where PUT /config saves the new config (atomically).
	// Empty: PUT reloads without saving.
	ConfigPath string
	// TrustedOrigins may call the API from a browser (the dashboard), in
	// addition to the trusted_origins of the Controller's current config.
	TrustedOrigins []string
	// AllowedHosts are host names accepted in the Host header besides IP
	// literals and "localhost".
	AllowedHosts []string
	// Metrics, if set, is served at GET /metrics (behind the same checks).
	Metrics http.Handler
	// Health, if set, is served at GET /healthz and GET /readyz without a
	// token (liveness says nothing secret, and the launcher probes it), but
	// behind the Host and Origin checks.
	Health http.Handler
	// Log receives refusals and errors. nil = discarded.
	Log *slog.Logger

	mu   sync.Mutex // serialises PUT /config: validate, reload, save
	ln   net.Listener
	srv  *http.Server
	done chan struct{}

	// testHookBound, if set, runs right after the unix socket is bound,
	// before it is published at its path.
	testHookBound func()
}

// Start listens and serves in the background until Close or ctx ends.
func (s *Server) Start(ctx context.Context) error {
	if s.Log == nil {
		s.Log = logging.Discard()
	}
	if s.Controller == nil {
		return errors.New("admin: start: no controller")
	}
	if s.Token == "" && !config.IsLoopbackListen(s.Listen) {
		return fmt.Errorf("%w (%s): set a token or listen on 127.0.0.1 or a unix socket", ErrNoToken, s.Listen)
	}
	ln, err := listen(s.Listen, s.testHookBound)
	if err != nil {
		return err
	}
	s.ln = ln
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(s.Log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return nil
}

// listen binds addr. A unix socket is bound in a fresh private (0700)
// directory beside its path, made 0600 there, and only then renamed into
// place: binding at the final path would publish it, for the moment before
// chmod, with whatever mode the process umask leaves (0775 under the
// common umask 002, so group members could connect to a token-less API).
func listen(addr string, bound func()) (net.Listener, error) {
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&fs.ModeSocket != 0 {
			// A socket left by a dead gateway; a live one answers a dial.
			if c, err := net.DialTimeout("unix", p, time.Second); err == nil {
				c.Close()
				return nil, fmt.Errorf("admin: listen %s: another gateway is listening there", addr)
			}
			os.Remove(p)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return nil, fmt.Errorf("admin: listen %s: %w", addr, err)
		}
		tmpDir, err := os.MkdirTemp(filepath.Dir(p), ".admin-sock-")
		if err != nil {
			return nil, fmt.Errorf("admin: listen %s: %w", addr, err)
		}
		defer os.RemoveAll(tmpDir)
		tmp := filepath.Join(tmpDir, "s")
		ln, err := net.Listen("unix", tmp)
		if err != nil {
			return nil, fmt.Errorf("admin: listen %s: %w", addr, err)
		}
		// The listener must not unlink its bind path on Close: the socket
		// lives at p now, which Close removes.
		ln.(*net.UnixListener).SetUnlinkOnClose(false)
		if bound != nil {
			bound()
		}
		if err := os.Chmod(tmp, 0o600); err != nil {
			ln.Close()
			return nil, fmt.Errorf("admin: listen %s: %w", addr, err)
		}
		if err := os.Rename(tmp, p); err != nil {
			ln.Close()
			return nil, fmt.Errorf("admin: listen %s: %w", addr, err)
		}
		return ln, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err) // "listen tcp ADDR: bind: ..." names the address
	}
	return ln, nil
}

// Addr is the listening address (after Start).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// URL is the base URL of the API ("http://127.0.0.1:9800"), or "" for a unix socket.
func (s *Server) URL() string {
	if s.ln == nil || s.ln.Addr().Network() != "tcp" {
		return ""
	}
	return "http://" + s.ln.Addr().String()
}

// Close stops the server, waiting for active requests up to ctx.
func (s *Server) Close(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	<-s.done
	if p, ok := strings.CutPrefix(s.Listen, "unix:"); ok {
		os.Remove(p)
	}
	if err != nil {
		return fmt.Errorf("admin: close: %w", err)
	}
	return nil
}

// Handler is the API with every check applied, for embedding in another server.
func (s *Server) Handler() http.Handler {
	if s.Log == nil {
		s.Log = logging.Discard()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", s.status)
	mux.HandleFunc("GET /logs", s.logs)
	mux.HandleFunc("POST /kill", s.kill)
	mux.HandleFunc("GET /config", s.getConfig)
	mux.HandleFunc("PUT /config", s.putConfig)
	mux.HandleFunc("POST /validate", s.validate)
	if s.Metrics != nil {
		mux.Handle("GET /metrics", s.Metrics)
	}
	return s.guard(mux)
}

// apiError is the body of every error answer.
type apiError struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (s *Server) refuse(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	s.Log.Warn("admin: refused", logging.KeyPeer, r.RemoteAddr, "method", r.Method, "path", r.URL.Path, logging.KeyReason, msg)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="warren gateway"`)
	}
	writeJSON(w, status, apiError{Error: msg, Code: code})
}

// guard applies the Host, Origin, token and content-type checks, and
// answers a path or method the API does not have in JSON, as every other
// answer (404, or 405 with Allow; ServeMux's own are plain text).
func (s *Server) guard(next *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.hostAllowed(r.Host, localIP(r)) {
			s.refuse(w, r, http.StatusForbidden, "bad_host", fmt.Sprintf("host %q is not this gateway's admin API (DNS rebinding?)", r.Host))
			return
		}
		if o := r.Header.Get("Origin"); o != "" && !s.originAllowed(o, r.Host) {
			s.refuse(w, r, http.StatusForbidden, "bad_origin", fmt.Sprintf("origin %q may not use the admin API", o))
			return
		}
		if r.Header.Get("Origin") == "" && r.Header.Get("Sec-Fetch-Site") == "cross-site" {
			s.refuse(w, r, http.StatusForbidden, "bad_origin", "cross-site browser requests may not use the admin API")
			return
		}
		if s.Health != nil && (r.URL.Path == "/healthz" || r.URL.Path == "/readyz") && r.Method == http.MethodGet {
			s.Health.ServeHTTP(w, r)
			return
		}
		if s.Token != "" {
			auth := r.Header.Get("Authorization")
			tok, ok := bearer(auth)
			if !ok || !tokenEqual(tok, s.Token) {
				msg := "missing bearer token"
				if auth != "" {
					msg = "wrong bearer token"
				}
				s.refuse(w, r, http.StatusUnauthorized, "unauthorized", msg)
				return
			}
		}
		if _, pattern := next.Handler(r); pattern == "" {
			if allow := allowedMethods(next, r); len(allow) > 0 {
				w.Header().Set("Allow", strings.Join(allow, ", "))
				writeJSON(w, http.StatusMethodNotAllowed, apiError{fmt.Sprintf("%s does not take %s (allowed: %s)", r.URL.Path, r.Method, strings.Join(allow, ", ")), "method_not_allowed"})
				return
			}
			writeJSON(w, http.StatusNotFound, apiError{fmt.Sprintf("no API path %s (see the README's admin API table)", r.URL.Path), "not_found"})
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil || mt != "application/json" {
				s.refuse(w, r, http.StatusUnsupportedMediaType, "bad_content_type", "requests that change state need Content-Type: application/json")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// allowedMethods lists the methods mux serves r's path with.
func allowedMethods(mux *http.ServeMux, r *http.Request) []string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "" {
			allow = append(allow, m)
		}
	}
	return allow
}

// bearer returns the credentials of an "Authorization: Bearer <token>"
// header. The scheme name is case-insensitive (RFC 9110 section 11.1).
func bearer(auth string) (string, bool) {
	scheme, tok, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// tokenEqual compares in time that depends on neither the tokens' contents
// nor their lengths (subtle.ConstantTimeCompare returns at once on a length
// mismatch, which tells a prober the token's length): both are hashed first.
func tokenEqual(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// localIP is the address the request's connection arrived on (nil for a
// unix socket).
func localIP(r *http.Request) net.IP {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr); ok {
		return a.IP
	}
	return nil
}

// hostAllowed accepts "localhost", the configured names, and IP literals
// that are loopback or the address the connection arrived on: a client
// names the address it connected to. Any other literal is refused, notably
// 0.0.0.0 and [::], which browsers route to this machine from a public
// page ("0.0.0.0 day") while the page's requests then carry that Host.
func (s *Server) hostAllowed(host string, local net.IP) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	// "localhost." is the same name written fully qualified; a page cannot
	// be served from it either.
	h = strings.TrimSuffix(h, ".")
	if h == "" {
		return strings.HasPrefix(s.Listen, "unix:") // HTTP/1.0 over a unix socket
	}
	if ip := net.ParseIP(h); ip != nil {
		return ip.IsLoopback() || (local != nil && !local.IsUnspecified() && ip.Equal(local))
	}
	if strings.EqualFold(h, "localhost") {
		return true
	}
	return slices.ContainsFunc(s.AllowedHosts, func(a string) bool { return strings.EqualFold(strings.TrimSuffix(a, "."), h) })
}

func (s *Server) originAllowed(origin, host string) bool {
	match := func(t string) bool { return strings.EqualFold(strings.TrimSuffix(t, "/"), origin) }
	if slices.ContainsFunc(s.TrustedOrigins, match) || slices.ContainsFunc(s.Controller.Config().TrustedOrigins, match) {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Scheme == "http" && u.Host != "" && strings.EqualFold(u.Host, host)
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Controller.Status())
}

func (s *Server) logs(w http.ResponseWriter, r *http.Request) {
	ref := r.URL.Query().Get("ref")
	if ref == "" {
		writeJSON(w, http.StatusBadRequest, apiError{"the ref query parameter (route port or port/backend) is required", "bad_request"})
		return
	}
	lines, err := s.Controller.Logs(ref)
	if err != nil {
		writeJSON(w, http.StatusNotFound, apiError{err.Error(), "not_found"})
		return
	}
	if lines == nil {
		lines = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"ref": ref, "lines": lines})
}

type killRequest struct {
	Ref string `json:"ref"`
}

func (s *Server) kill(w http.ResponseWriter, r *http.Request) {
	var req killRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Ref == "" {
		writeJSON(w, http.StatusBadRequest, apiError{`want {"ref": "<port>[/<backend>]"}`, "bad_request"})
		return
	}
	if err := s.Controller.Kill(req.Ref); err != nil {
		writeJSON(w, http.StatusNotFound, apiError{err.Error(), "kill_failed"})
		return
	}
	s.Log.Info("admin: killed", "ref", req.Ref, logging.KeyPeer, r.RemoteAddr)
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "ref": req.Ref})
}

// getConfig answers the config in effect as it was given; with
// ?effective=1, with every default filled in.
func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) {
	cfg := s.Controller.Config()
	if r.URL.Query().Get("effective") == "1" {
		cfg = cfg.Normalized()
	}
	data, err := config.Marshal(cfg)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, apiError{err.Error(), "internal"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(data)
}

// readConfig decodes a request body strictly; on failure it has answered 400.
func readConfig(w http.ResponseWriter, r *http.Request) (config.Config, bool) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, config.MaxSize))
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		writeJSON(w, http.StatusRequestEntityTooLarge, apiError{fmt.Sprintf("a config is at most %d bytes", config.MaxSize), "too_large"})
		return config.Config{}, false
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{"reading the body: " + err.Error(), "bad_request"})
		return config.Config{}, false
	}
	cfg, err := config.Decode(data)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{err.Error(), "invalid_config"})
		return config.Config{}, false
	}
	return cfg, true
}

func (s *Server) validate(w http.ResponseWriter, r *http.Request) {
	if _, ok := readConfig(w, r); ok {
		writeJSON(w, http.StatusOK, map[string]any{"valid": true})
	}
}

// putConfig validates, reloads the engine, then saves atomically. An
// invalid config or a failed reload changes nothing, on disk included; if
// saving fails after a good reload, the old config is reloaded.
func (s *Server) putConfig(w http.ResponseWriter, r *http.Request) {
	cfg, ok := readConfig(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.Controller.Config()
	diff := config.Compare(old, cfg)
	if err := s.Controller.Reload(cfg); err != nil {
		writeJSON(w, http.StatusConflict, apiError{"reload: " + err.Error(), "reload_failed"})
		return
	}
	if s.ConfigPath != "" {
		if err := config.Save(s.ConfigPath, cfg); err != nil {
			if rerr := s.Controller.Reload(old); rerr != nil {
				s.Log.Error("admin: restoring the old config after a failed save", logging.KeyErr, rerr)
			}
			writeJSON(w, http.StatusInternalServerError, apiError{err.Error(), "save_failed"})
			return
		}
	}
	s.Log.Info("admin: config replaced", logging.KeyPeer, r.RemoteAddr, "added", diff.Added, "removed", diff.Removed, "changed", diff.Changed)
	resp := map[string]any{"ok": true, "added": orEmpty(diff.Added), "removed": orEmpty(diff.Removed), "changed": orEmpty(diff.Changed), "unchanged": orEmpty(diff.Unchanged), "noop": diff.Empty()}
	if cfg.AdminListen() != old.AdminListen() {
		// The API answering this request keeps its address until the
		// gateway starts again: say so, not just "ok".
		resp["warning"] = fmt.Sprintf("the admin API stays on %s until the gateway restarts (the new config says %s)", old.AdminListen(), cfg.AdminListen())
	}
	writeJSON(w, http.StatusOK, resp)
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// TokenBytes is the entropy of a generated token.
const TokenBytes = 32

// LoadOrCreateToken returns the token stored at path, creating the file
// (0600, 64 hex characters from crypto/rand) at first start. A token file
// that others can read is refused: the token would not be a secret.
func LoadOrCreateToken(path string) (token string, created bool, err error) {
	data, err := os.ReadFile(path)
	if err == nil {
		fi, serr := os.Stat(path)
		if serr != nil {
			return "", false, fmt.Errorf("admin: token: %w", serr)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return "", false, fmt.Errorf("admin: token file %s is accessible by other users (mode %04o); run chmod 600 %s", path, fi.Mode().Perm(), path)
		}
		tok := strings.TrimSpace(string(data))
		if len(tok) < 16 {
			return "", false, fmt.Errorf("admin: token file %s holds no usable token (want at least 16 characters)", path)
		}
		return tok, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("admin: token: %w", err)
	}
	b := make([]byte, TokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", false, fmt.Errorf("admin: token: %w", err)
	}
	tok := hex.EncodeToString(b)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", false, fmt.Errorf("admin: token: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) { // another process created it just now
			return LoadOrCreateToken(path)
		}
		return "", false, fmt.Errorf("admin: token: %w", err)
	}
	if _, err := f.WriteString(tok + "\n"); err != nil {
		f.Close()
		os.Remove(path)
		return "", false, fmt.Errorf("admin: token: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", false, fmt.Errorf("admin: token: %w", err)
	}
	return tok, true, nil
}

// TokenPath resolves the config's admin.token_file against the config file's directory.
func TokenPath(cfg config.Config, configPath string) string {
	tf := cfg.Normalized().Admin.TokenFile
	if filepath.IsAbs(tf) {
		return tf
	}
	return filepath.Join(filepath.Dir(configPath), tf)
}
