// Package launch owns the warren:// URL handler (GopherMesh's
// gophermesh://launch, renamed): parsing warren://launch?port=&conf=,
// confining conf to the config directory, checking the port against the
// config, finding out whether the gateway already runs (its /healthz on
// the admin address) and starting it detached through proc when it does not,
// and registering the handler with the desktop (xdg-mime).
package launch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/warren-mesh/warren/gateway/config"
	"github.com/warren-mesh/warren/proc"
)

// Scheme is the URL scheme of the launch handler.
const Scheme = "warren"

// ErrBadURL is matched by every Parse error; ErrOutside by a conf outside
// the config directory; ErrPort by a port the config does not route.
var (
	ErrBadURL  = errors.New("launch: bad URL")
	ErrOutside = errors.New("launch: config file outside the config directory")
	ErrPort    = errors.New("launch: port not served by the config")
)

// Request is a parsed launch URL.
type Request struct {
	Port string // "" = no particular route
	Conf string // "" = the default config; as given in the URL otherwise
}

// Parse reads "warren://launch?port=8080&conf=gateway.json". Unknown query
// parameters are refused, so a typo does not silently launch something else.
func Parse(raw string) (Request, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Request{}, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	if !strings.EqualFold(u.Scheme, Scheme) {
		return Request{}, fmt.Errorf("%w: scheme %q, want %s://launch", ErrBadURL, u.Scheme, Scheme)
	}
	action := u.Host
	if action == "" {
		action = strings.TrimPrefix(u.Opaque, "//")
	}
	action = strings.Trim(action+strings.TrimSuffix(u.Path, "/"), "/")
	if action != "launch" {
		return Request{}, fmt.Errorf("%w: action %q, want %s://launch", ErrBadURL, action, Scheme)
	}
	var r Request
	for k, vs := range u.Query() {
		if len(vs) != 1 {
			return Request{}, fmt.Errorf("%w: parameter %q given %d times", ErrBadURL, k, len(vs))
		}
		switch k {
		case "port":
			if _, err := config.ParsePort(vs[0]); err != nil {
				return Request{}, fmt.Errorf("%w: port: %v", ErrBadURL, err)
			}
			r.Port = vs[0]
		case "conf":
			if vs[0] == "" || strings.ContainsRune(vs[0], 0) {
				return Request{}, fmt.Errorf("%w: empty conf", ErrBadURL)
			}
			r.Conf = vs[0]
		default:
			return Request{}, fmt.Errorf("%w: unknown parameter %q (want port, conf)", ErrBadURL, k)
		}
	}
	return r, nil
}

// ResolveConf returns the config file a launch uses: defaultPath when conf
// is empty, else conf (relative to the config directory, the directory of
// defaultPath) provided it resolves, symbolic links followed, to a file
// inside that directory. A URL clicked in a browser must not be able to
// make the gateway run a config (and so commands) from anywhere else.
func ResolveConf(defaultPath, conf string) (string, error) {
	if conf == "" {
		return defaultPath, nil
	}
	dir, err := filepath.Abs(filepath.Dir(defaultPath))
	if err != nil {
		return "", fmt.Errorf("launch: %w", err)
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", fmt.Errorf("launch: config directory: %w", err)
	}
	p := conf
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", fmt.Errorf("launch: conf %q: %w", conf, err)
	}
	rel, err := filepath.Rel(realDir, real)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("%w: %q is not inside %s", ErrOutside, conf, dir)
	}
	fi, err := os.Stat(real)
	if err != nil || !fi.Mode().IsRegular() {
		return "", fmt.Errorf("launch: conf %q is not a regular file", conf)
	}
	return real, nil
}

// ValidatePort checks that cfg routes port (when one is asked for).
func ValidatePort(cfg config.Config, port string) error {
	if port == "" {
		return nil
	}
	if _, ok := cfg.Routes[port]; !ok {
		return fmt.Errorf("%w: %s (routes: %s)", ErrPort, port, strings.Join(cfg.Ports(), ", "))
	}
	return nil
}

// RouteURL is the URL a browser opens for a route.
func RouteURL(cfg config.Config, port string) string {
	r := cfg.Routes[port]
	host := r.Bind
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// healthClient reaches the admin address of cfg (TCP or unix socket).
func healthClient(cfg config.Config) (*http.Client, string) {
	addr := cfg.AdminListen()
	tr := &http.Transport{DisableKeepAlives: true}
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", p)
		}
		addr = "localhost"
	} else if h, port, err := net.SplitHostPort(addr); err == nil && (h == "0.0.0.0" || h == "::" || h == "") {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	return &http.Client{Transport: tr, Timeout: 2 * time.Second}, "http://" + addr + "/healthz"
}

// Running reports whether a gateway answers /healthz on cfg's admin address.
func Running(ctx context.Context, cfg config.Config) bool {
	c, u := healthClient(cfg)
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return false
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// StartOptions say how to start a gateway in the background.
type StartOptions struct {
	// Exe and Args run the gateway (os.Executable() and
	// ["gateway", "--config", path]).
	Exe  string
	Args []string
	// LogFile receives the gateway's output. Default: gateway.log next to the config.
	LogFile string
	// Timeout bounds the wait for /healthz. Default 15s.
	Timeout time.Duration
}

// Ensure makes sure a gateway serving cfg runs: if none answers on its admin
// address, it starts one in its own session (so it outlives the launcher,
// which a desktop starts and forgets) and waits for its /healthz. pid is
// the started gateway's, or 0 when one was already running. A gateway that
// exits during the wait is an error quoting the end of its log.
func Ensure(ctx context.Context, cfg config.Config, o StartOptions) (pid int, err error) {
	if Running(ctx, cfg) {
		return 0, nil
	}
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Second
	}
	lf, err := os.OpenFile(o.LogFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return 0, fmt.Errorf("launch: log file: %w", err)
	}
	defer lf.Close()
	p, err := proc.Start(context.Background(), proc.Spec{
		Path: o.Exe, Args: o.Args, Stdout: lf, Stderr: lf, NoDeathSignal: true,
	})
	if err != nil {
		return 0, fmt.Errorf("launch: start gateway: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	for wait := 5 * time.Millisecond; ; wait = min(wait*2, 200*time.Millisecond) {
		if Running(wctx, cfg) {
			return p.PID(), nil
		}
		select {
		case <-p.Done():
			return 0, fmt.Errorf("launch: the gateway exited with status %d; see %s:\n%s", p.ExitCode(), o.LogFile, tail(o.LogFile, 5))
		case <-wctx.Done():
			_ = p.Stop(context.Background())
			return 0, fmt.Errorf("launch: the gateway did not answer on %s within %s; see %s", cfg.AdminListen(), o.Timeout, o.LogFile)
		case <-time.After(wait):
		}
	}
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// DesktopFile is the XDG desktop entry that routes warren:// URLs to exe.
func DesktopFile(exe string) string {
	return fmt.Sprintf(`[Desktop Entry]
Type=Application
Name=warren launcher
Comment=Start the warren gateway from warren://launch links
Exec=%s gateway launch %%u
Terminal=false
NoDisplay=true
MimeType=x-scheme-handler/%s;
`, quoteExec(exe), Scheme)
}

func quoteExec(s string) string {
	if !strings.ContainsAny(s, " \t\"'\\$`") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "`", "\\`", `$`, `\$`)
	return `"` + r.Replace(s) + `"`
}

// DesktopFileName is the name of the desktop entry.
const DesktopFileName = "warren-launch.desktop"

// Register writes the desktop entry into appsDir
// ($XDG_DATA_HOME/applications) and, when xdg-mime is installed, makes it
// the default handler of warren:// URLs. It returns the entry's path and
// whether xdg-mime was run.
func Register(ctx context.Context, appsDir, exe string) (path string, xdg bool, err error) {
	if err := os.MkdirAll(appsDir, 0o755); err != nil {
		return "", false, fmt.Errorf("launch: register: %w", err)
	}
	path = filepath.Join(appsDir, DesktopFileName)
	if err := config.WriteFileAtomic(path, []byte(DesktopFile(exe)), 0o644); err != nil {
		return "", false, fmt.Errorf("launch: register: %w", err)
	}
	xm, err := exec.LookPath("xdg-mime")
	if err != nil {
		return path, false, nil // no desktop tools: the entry is there for when they are
	}
	var out strings.Builder
	p, err := proc.Start(ctx, proc.Spec{Path: xm, Args: []string{"default", DesktopFileName, "x-scheme-handler/" + Scheme}, Stdout: &out, Stderr: &out})
	if err != nil {
		return path, false, fmt.Errorf("launch: register: %w", err)
	}
	if err := p.Wait(ctx); err != nil {
		return path, true, fmt.Errorf("launch: register: xdg-mime: %w: %s", err, strings.TrimSpace(out.String()))
	}
	return path, true, nil
}
