package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// DefaultDocument is the config written at first start. Its "//" keys are
// comments (the decoder skips them) that document every field, so the file
// explains itself. It decodes to Default().
const DefaultDocument = `{
  "//": "warren gateway config. GopherMesh's config.json is accepted unchanged; keys starting with // are comments. Check a file with: warren gateway validate FILE",
  "dashboard_host": "127.0.0.1",
  "dashboard_port": "9800",
  "//dashboard": "the admin API listens on dashboard_host:dashboard_port (loopback by default) and needs the bearer token in admin.token next to this file",
  "trusted_origins": [],
  "//trusted_origins": "browser origins such as \"http://localhost:3000\" allowed by CORS on routes (cors.mode trusted, the default) and by the admin API",
  "routes": {
    "18080": {
      "name": "health",
      "protocol": "http",
      "backends": [
        { "name": "health", "cmd": "internal" }
      ]
    }
  },
  "//routes": {
    "//": "routes are keyed by public port; these examples are inert (inside a comment key)",
    "8080": {
      "name": "web app started on the first request, stopped after 10 idle minutes",
      "protocol": "http",
      "load_balance": "round_robin",
      "bind": "127.0.0.1",
      "start_timeout": "30s",
      "idle_timeout": "10m",
      "readiness": { "type": "http", "path": "/healthz" },
      "restart": { "policy": "on_demand", "backoff": "500ms", "max_backoff": "30s" },
      "request_timeout": "none",
      "read_header_timeout": "10s",
      "send_timeout": "60s",
      "conn_idle_timeout": "120s",
      "max_body_bytes": -1,
      "cors": { "mode": "trusted", "origins": ["http://localhost:3000"] },
      "backends": [
        { "name": "app1", "cmd": "./app", "args": ["--port", "9001"], "internal_port": "9001",
          "env": { "APP_ENV": "prod" }, "cwd": "/srv/app", "weight": 2 },
        { "name": "app2", "cmd": "./app", "args": ["--port", "9002"], "internal_port": "9002" }
      ]
    },
    "5432": {
      "name": "tcp proxy to a fixed address (empty cmd)",
      "protocol": "tcp",
      "backends": [ { "cmd": "", "internal_host": "10.0.0.5", "internal_port": "5432" } ]
    },
    "2222": {
      "name": "tcp server handed the port itself (handoff, systemd's LISTEN_FDS on fd 3): started on the first connection, stopped after 5 idle minutes, no proxy in the data path",
      "protocol": "tcp",
      "handoff": true,
      "idle_timeout": "5m",
      "backends": [ { "cmd": "./server" } ]
    },
    "8090": {
      "name": "CGI-style worker: one process per request, headers and body over stdio",
      "protocol": "stdio",
      "stdio_mode": "http",
      "request_timeout": "30s",
      "max_output_bytes": 67108864,
      "backends": [ { "cmd": "/usr/local/bin/worker" } ]
    }
  }
}
`

// Default is the configuration of DefaultDocument: the dashboard/admin API on
// 127.0.0.1:9800 and one route, 18080, serving the gateway's own health
// handler, so a fresh install answers something useful and exposes nothing
// beyond loopback.
func Default() Config {
	return Config{
		DashboardHost:  DefaultDashboardHost,
		DashboardPort:  DefaultDashboardPort,
		TrustedOrigins: []string{},
		Routes: map[string]Route{
			"18080": {Name: "health", Protocol: ProtocolHTTP, Backends: []Backend{{Name: "health", Cmd: InternalCmd}}},
		},
	}
}

// Load reads and decodes the config file at path (see Decode).
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: load: %w", err)
	}
	c, err := Decode(data)
	if err != nil {
		// Several problems go one to a line, under a line that says how
		// many, rather than the first glued to the path.
		if j, ok := err.(interface{ Unwrap() []error }); ok && len(j.Unwrap()) > 1 {
			return Config{}, fmt.Errorf("config: %s: %d problems:\n%w", path, len(j.Unwrap()), err)
		}
		return Config{}, fmt.Errorf("config: %s: %w", path, err)
	}
	return c, nil
}

// LoadOrCreate loads path, first writing DefaultDocument there when no file
// exists. created reports whether it did.
func LoadOrCreate(path string) (c Config, created bool, err error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := WriteDefault(path); err != nil {
			return Config{}, false, err
		}
		created = true
	}
	c, err = Load(path)
	return c, created, err
}

// WriteDefault writes DefaultDocument to path (creating its directory) unless
// a file is already there: it never overwrites.
func WriteDefault(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("config: write default: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("config: write default: %w", err)
	}
	if _, err := f.WriteString(DefaultDocument); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("config: write default: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("config: write default: %w", err)
	}
	return nil
}

// Marshal encodes c as indented JSON, as written (no defaults added).
func Marshal(c Config) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("config: marshal: %w", err)
	}
	return buf.Bytes(), nil
}

// Save validates c and writes it to path atomically: a temporary file in
// the same directory is written, synced and renamed over path, so a reader
// (or a crash) sees the old file or the new one, never a mix. An invalid
// config leaves the file untouched. The file is 0600: backends' env may hold
// secrets.
func Save(path string, c Config) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("config: save: %w", err)
	}
	data, err := Marshal(c)
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, data, 0o600)
}

// WriteFileAtomic writes data to path through a synced temporary file and a
// rename, then syncs the directory so the rename survives a power cut.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("config: save: %w", err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("config: save: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Chmod(perm); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("config: save: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // best effort: some filesystems refuse fsync on a directory
		d.Close()
	}
	return nil
}
