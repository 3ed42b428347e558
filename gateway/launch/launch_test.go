package launch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/warren-mesh/warren/gateway/config"
	"github.com/warren-mesh/warren/internal/testutil"
	"github.com/warren-mesh/warren/proc"
)

// TestMain doubles as a fake gateway: with FAKE_GATEWAY_ADDR set, the test
// binary serves /healthz there until SIGTERM; with FAKE_GATEWAY_FAIL it
// prints a message and exits 1, like a gateway with a bad config.
func TestMain(m *testing.M) {
	if msg := os.Getenv("FAKE_GATEWAY_FAIL"); msg != "" {
		fmt.Fprintln(os.Stderr, msg)
		os.Exit(1)
	}
	if addr := os.Getenv("FAKE_GATEWAY_ADDR"); addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			os.Exit(3)
		}
		go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/healthz" {
				w.Write([]byte(`{"status":"ok"}`))
				return
			}
			http.NotFound(w, r)
		}))
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Request
		err  string
	}{
		{in: "warren://launch", want: Request{}},
		{in: "warren://launch/", want: Request{}},
		{in: "warren://launch?port=8080", want: Request{Port: "8080"}},
		{in: "warren://launch?port=8080&conf=work.json", want: Request{Port: "8080", Conf: "work.json"}},
		{in: "WARREN://launch?conf=a%2Fb.json", want: Request{Conf: "a/b.json"}},
		{in: "gophermesh://launch", err: "scheme"},
		{in: "warren://evil?port=1", err: "action"},
		{in: "warren://launch?port=0", err: "port"},
		{in: "warren://launch?port=http", err: "port"},
		{in: "warren://launch?port=1&port=2", err: "given 2 times"},
		{in: "warren://launch?cmd=rm", err: "unknown parameter"},
		{in: "warren://launch?conf=", err: "empty conf"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrBadURL) {
				t.Errorf("%s: err %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: %+v %v", tt.in, got, err)
		}
	}
}

func TestResolveConf(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "warren")
	os.MkdirAll(filepath.Join(dir, "sub"), 0o700)
	def := filepath.Join(dir, "gateway.json")
	for _, f := range []string{def, filepath.Join(dir, "other.json"), filepath.Join(dir, "sub", "x.json"), filepath.Join(root, "outside.json")} {
		os.WriteFile(f, []byte("{}"), 0o600)
	}
	os.Symlink(filepath.Join(root, "outside.json"), filepath.Join(dir, "escape.json"))
	os.Symlink(filepath.Join(dir, "other.json"), filepath.Join(dir, "alias.json"))
	tests := []struct {
		conf, want string
		outside    bool
	}{
		{"", def, false},
		{"other.json", filepath.Join(dir, "other.json"), false},
		{"sub/x.json", filepath.Join(dir, "sub", "x.json"), false},
		{filepath.Join(dir, "other.json"), filepath.Join(dir, "other.json"), false},
		{"alias.json", filepath.Join(dir, "other.json"), false},
		{"../outside.json", "", true},
		{filepath.Join(root, "outside.json"), "", true},
		{"escape.json", "", true},
		{"sub/../../outside.json", "", true},
		{".", "", true},
	}
	for _, tt := range tests {
		got, err := ResolveConf(def, tt.conf)
		if tt.outside {
			if !errors.Is(err, ErrOutside) {
				t.Errorf("%q: %q %v, want ErrOutside", tt.conf, got, err)
			}
			continue
		}
		want, _ := filepath.EvalSymlinks(tt.want)
		if err != nil || (got != want && got != tt.want) {
			t.Errorf("%q: %q %v, want %q", tt.conf, got, err, tt.want)
		}
	}
	if _, err := ResolveConf(def, "missing.json"); err == nil {
		t.Error("missing conf accepted")
	}
}

func TestValidatePortAndURL(t *testing.T) {
	cfg := config.Default()
	if err := ValidatePort(cfg, "18080"); err != nil {
		t.Fatal(err)
	}
	if err := ValidatePort(cfg, "1234"); !errors.Is(err, ErrPort) || !strings.Contains(err.Error(), "18080") {
		t.Fatalf("%v", err)
	}
	if u := RouteURL(cfg, "18080"); u != "http://127.0.0.1:18080/" {
		t.Fatal(u)
	}
}

func fakeConfig(t *testing.T) config.Config {
	cfg := config.Default()
	cfg.Admin = &config.Admin{Listen: fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))}
	return cfg
}

func TestEnsureStartsOnceAndDetaches(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	cfg := fakeConfig(t)
	exe, _ := os.Executable()
	logf := filepath.Join(t.TempDir(), "gateway.log")
	os.Setenv("FAKE_GATEWAY_ADDR", cfg.AdminListen())
	defer os.Unsetenv("FAKE_GATEWAY_ADDR")
	ctx := context.Background()
	if Running(ctx, cfg) {
		t.Fatal("something already answers")
	}
	pid, err := Ensure(ctx, cfg, StartOptions{Exe: exe, Args: []string{"-test.run=^$"}, LogFile: logf})
	if err != nil || pid == 0 {
		t.Fatalf("Ensure: %d %v", pid, err)
	}
	t.Cleanup(func() {
		syscall.Kill(pid, syscall.SIGTERM)
		testutil.Eventually(t, 10*time.Second, func() error {
			if proc.Alive(pid) {
				return fmt.Errorf("fake gateway %d alive", pid)
			}
			return nil
		})
	})
	// Its own session: it survives the launcher.
	if sid, _ := unix.Getsid(pid); sid != pid {
		t.Fatalf("gateway session %d, want its own (%d)", sid, pid)
	}
	// A second launch finds it running and starts nothing.
	again, err := Ensure(ctx, cfg, StartOptions{Exe: exe, Args: []string{"-test.run=^$"}, LogFile: logf})
	if err != nil || again != 0 {
		t.Fatalf("second Ensure: %d %v", again, err)
	}
}

func TestEnsureReportsAFailingGateway(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	cfg := fakeConfig(t)
	exe, _ := os.Executable()
	logf := filepath.Join(t.TempDir(), "gateway.log")
	os.Setenv("FAKE_GATEWAY_FAIL", `routes["1"].backends: a route needs at least one backend`)
	defer os.Unsetenv("FAKE_GATEWAY_FAIL")
	_, err := Ensure(context.Background(), cfg, StartOptions{Exe: exe, LogFile: logf})
	if err == nil || !strings.Contains(err.Error(), "exited with status 1") || !strings.Contains(err.Error(), `routes["1"].backends`) {
		t.Fatalf("Ensure: %v", err)
	}
}

func TestRegister(t *testing.T) {
	testutil.VerifyNoLeaks(t)
	bin := t.TempDir()
	record := filepath.Join(t.TempDir(), "xdg-args")
	script := "#!/bin/sh\necho \"$@\" > " + record + "\n"
	if err := os.WriteFile(filepath.Join(bin, "xdg-mime"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	apps := filepath.Join(t.TempDir(), "applications")
	path, xdg, err := Register(context.Background(), apps, "/opt/my tools/warren")
	if err != nil || !xdg {
		t.Fatalf("%v %v", xdg, err)
	}
	entry, _ := os.ReadFile(path)
	for _, want := range []string{`Exec="/opt/my tools/warren" gateway launch %u`, "MimeType=x-scheme-handler/warren;"} {
		if !strings.Contains(string(entry), want) {
			t.Errorf("desktop entry lacks %q:\n%s", want, entry)
		}
	}
	args, _ := os.ReadFile(record)
	if strings.TrimSpace(string(args)) != "default warren-launch.desktop x-scheme-handler/warren" {
		t.Fatalf("xdg-mime got %q", args)
	}
	// Without xdg-mime the entry is still written.
	t.Setenv("PATH", t.TempDir())
	if _, xdg, err := Register(context.Background(), apps, "/usr/bin/warren"); err != nil || xdg {
		t.Fatalf("no xdg-mime: %v %v", xdg, err)
	}
}
