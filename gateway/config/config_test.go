package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gopherMesh is a config.json as GopherMesh writes it (SaveConfig of its
// Config struct: nil slices as null, ports as strings).
const gopherMesh = `{
  "dashboard_host": "127.0.0.1",
  "dashboard_port": "9090",
  "trusted_origins": null,
  "service_name": "demo",
  "internal_port": "7000",
  "routes": {
    "8080": {
      "name": "web",
      "protocol": "http",
      "load_balance": "least_conn",
      "backends": [
        {"name": "a", "cmd": "./app", "args": ["-p", "9001"], "internal_host": "127.0.0.1", "internal_port": "9001"},
        {"name": "b", "cmd": "", "internal_host": "127.0.0.1", "internal_port": "9002"}
      ]
    },
    "8081": {"name": "health", "backends": [{"cmd": "internal"}]},
    "2222": {"name": "ssh", "protocol": "tcp", "load_balance": "ip_hash", "backends": [{"cmd": "", "internal_port": "22"}]},
    "8082": {"name": "worker", "protocol": "stdio", "stdio_mode": "http", "backends": [{"name": "w", "cmd": "python3", "args": ["w.py"]}]},
    "8083": {"name": "raw", "protocol": "stdio", "stdio_mode": "auto", "backends": [{"cmd": "cat"}]}
  }
}`

func TestDecodeGopherMeshUnchanged(t *testing.T) {
	c, err := Decode([]byte(gopherMesh))
	if err != nil {
		t.Fatal(err)
	}
	if c.DashboardPort != "9090" || c.ServiceName != "demo" || len(c.Routes) != 5 {
		t.Fatalf("decoded %+v", c)
	}
	r := c.Routes["8080"]
	if r.LoadBalance != BalanceLeastConn || r.Backends[0].Args[1] != "9001" || r.Backends[1].Kind() != KindProxy {
		t.Fatalf("route 8080: %+v", r)
	}
	if c.Routes["8081"].Backends[0].Kind() != KindInternal {
		t.Fatal("cmd internal is not the health handler")
	}
	if got := c.Routes["8080"].Backends[1].Addr(); got != "127.0.0.1:9002" {
		t.Fatalf("addr %q", got)
	}
	// Round trip: Marshal then Decode gives an equal config.
	data, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Decode(data)
	if err != nil {
		t.Fatalf("re-decode: %v\n%s", err, data)
	}
	if !Equal(c, c2) {
		t.Fatal("round trip changed the config")
	}
}

func TestDecodeErrorsNameTheField(t *testing.T) {
	route := func(body string) string { return `{"routes": {"8080": ` + body + `}}` }
	tests := []struct {
		name, doc, want string
	}{
		{"unknown top field", `{"dashbord_port": "1"}`, `dashbord_port: unknown field`},
		{"unknown route field", route(`{"name":"x","backend":[]}`), `routes["8080"].backend: unknown field`},
		{"unknown backend field", route(`{"backends":[{"cmd":"","internal_port":"1","port":2}]}`), `routes["8080"].backends[0].port: unknown field`},
		{"wrong type port", route(`{"backends":[{"cmd":"","internal_port":9001}]}`), `routes["8080"].backends[0].internal_port: want a string, got a number`},
		{"wrong type args", route(`{"backends":[{"cmd":"x","args":"-v","internal_port":"1"}]}`), `routes["8080"].backends[0].args: want an array, got a string`},
		{"wrong type routes", `{"routes": []}`, `routes: want an object, got an array`},
		{"wrong type weight", route(`{"backends":[{"cmd":"","internal_port":"1","weight":"2"}]}`), `routes["8080"].backends[0].weight: want an integer, got a string`},
		{"fractional weight", route(`{"backends":[{"cmd":"","internal_port":"1","weight":1.5}]}`), `routes["8080"].backends[0].weight: want int`},
		{"bad duration", route(`{"start_timeout":"10","backends":[{"cmd":"","internal_port":"1"}]}`), `routes["8080"].start_timeout: want a duration`},
		{"numeric duration", route(`{"idle_timeout":10,"backends":[{"cmd":"","internal_port":"1"}]}`), `routes["8080"].idle_timeout: want a string, got a number`},
		{"unknown protocol", route(`{"protocol":"udp","backends":[{"cmd":"","internal_port":"1"}]}`), `routes["8080"].protocol: unknown protocol "udp"`},
		{"unknown policy", route(`{"load_balance":"random","backends":[{"cmd":"","internal_port":"1"}]}`), `routes["8080"].load_balance: unknown policy "random"`},
		{"unknown stdio mode", `{"routes":{"1":{"protocol":"stdio","stdio_mode":"cgi","backends":[{"cmd":"cat"}]}}}`, `routes["1"].stdio_mode: unknown stdio mode`},
		{"no backends", route(`{"name":"x"}`), `routes["8080"].backends: a route needs at least one backend`},
		{"empty backends", route(`{"name":"x","backends":[]}`), `routes["8080"].backends: a route needs at least one backend`},
		{"NUL in an env value", route(`{"backends":[{"cmd":"x","internal_port":"1","env":{"A":"b\u0000c"}}]}`), `routes["8080"].backends[0].env["A"]: a NUL byte`},
		{"NUL in an argument", route(`{"backends":[{"cmd":"x","internal_port":"1","args":["ok","b\u0000"]}]}`), `routes["8080"].backends[0].args[1]: a NUL byte`},
		{"NUL in cmd", route(`{"backends":[{"cmd":"x\u0000","internal_port":"1"}]}`), `routes["8080"].backends[0].cmd: a NUL byte`},
		{"NUL in cwd", route(`{"backends":[{"cmd":"x","cwd":"/t\u0000","internal_port":"1"}]}`), `routes["8080"].backends[0].cwd: a NUL byte`},
		{"duplicate port key", `{"routes":{"8080":{"backends":[{"cmd":"internal"}]},"8080":{"backends":[{"cmd":"internal"}]}}}`, `routes: duplicate key "8080"`},
		{"port spelled twice", `{"routes":{"8080":{"backends":[{"cmd":"internal"}]},"08080":{"backends":[{"cmd":"internal"}]}}}`, `routes["08080"]: want a port number`},
		{"route on admin port", `{"dashboard_port":"9000","routes":{"9000":{"backends":[{"cmd":"internal"}]}}}`, `routes["9000"]: port 9000 is already used by admin`},
		{"bad route port", `{"routes":{"http":{"backends":[{"cmd":"internal"}]}}}`, `routes["http"]: want a port number`},
		{"port out of range", `{"routes":{"70000":{"backends":[{"cmd":"internal"}]}}}`, `routes["70000"]: want a port number`},
		{"self loop", route(`{"backends":[{"cmd":"","internal_port":"8080"}]}`), `routes["8080"].backends[0].internal_port: the backend is the route itself`},
		{"self loop localhost", route(`{"backends":[{"cmd":"","internal_host":"localhost","internal_port":"8080"}]}`), `the backend is the route itself`},
		{"loop via another route", `{"routes":{"8080":{"backends":[{"cmd":"","internal_port":"8081"}]},"8081":{"backends":[{"cmd":"","internal_port":"8080"}]}}}`, `routing loop through ports 8080 -> 8081 -> 8080`},
		{"proxy without port", route(`{"backends":[{"cmd":""}]}`), `routes["8080"].backends[0].internal_port: a proxy backend (empty cmd) needs the port`},
		{"process without port", route(`{"backends":[{"cmd":"./app"}]}`), `routes["8080"].backends[0].internal_port: the port the program listens on is required`},
		{"stdio without cmd", `{"routes":{"1":{"protocol":"stdio","backends":[{"cmd":""}]}}}`, `routes["1"].backends[0].cmd: a stdio route needs a program`},
		{"internal on tcp", `{"routes":{"1":{"protocol":"tcp","backends":[{"cmd":"internal"}]}}}`, `routes["1"].backends[0].cmd: "internal"`},
		{"bad bind", route(`{"bind":"example.com","backends":[{"cmd":"internal"}]}`), `routes["8080"].bind: want an IP address`},
		{"bad origin", `{"trusted_origins":["example.com"]}`, `trusted_origins[0]: want an origin`},
		{"origin with path", `{"trusted_origins":["http://a.example/x"]}`, `trusted_origins[0]: want an origin`},
		{"duplicate backend name", route(`{"backends":[{"name":"a","cmd":"internal"},{"name":"a","cmd":"internal"}]}`), `routes["8080"].backends[1].name: duplicate backend name "a"`},
		{"any with credentials", route(`{"cors":{"mode":"any","allow_credentials":true},"backends":[{"cmd":"internal"}]}`), `routes["8080"].cors.allow_credentials: credentials cannot`},
		{"unknown cors mode", route(`{"cors":{"mode":"all"},"backends":[{"cmd":"internal"}]}`), `routes["8080"].cors.mode: unknown CORS mode`},
		{"unknown readiness", route(`{"readiness":{"type":"exec"},"backends":[{"cmd":"internal"}]}`), `routes["8080"].readiness.type: unknown readiness type`},
		{"unknown restart", route(`{"restart":{"policy":"sometimes"},"backends":[{"cmd":"internal"}]}`), `routes["8080"].restart.policy: unknown restart policy`},
		{"negative weight", route(`{"backends":[{"cmd":"internal","weight":-1}]}`), `routes["8080"].backends[0].weight: must not be negative`},
		{"admin none on network", `{"admin":{"listen":"0.0.0.0:9000","auth":"none"}}`, `admin.auth: "none" is refused on a non-loopback address`},
		{"bad env name", route(`{"backends":[{"cmd":"x","internal_port":"1","env":{"A=B":"c"}}]}`), `routes["8080"].backends[0].env: bad variable name`},
		{"syntax error", "{\n  \"routes\": {,}\n}", `JSON syntax error at line 2`},
		{"trailing data", `{} {}`, `unexpected data after the config object`},
		{"not an object", `[1]`, `want a JSON object, got an array`},
		{"empty", ``, `JSON ends early`},
		{"start_timeout none", route(`{"start_timeout":"none","backends":[{"cmd":"internal"}]}`), `routes["8080"].start_timeout: "none" (or zero) is not allowed`},
		{"stop_grace none", route(`{"stop_grace":"off","backends":[{"cmd":"internal"}]}`), `routes["8080"].stop_grace: "none" (or zero) is not allowed`},
		{"read_header_timeout none", route(`{"read_header_timeout":"none","backends":[{"cmd":"internal"}]}`), `routes["8080"].read_header_timeout: "none" (or zero) is not allowed`},
		{"http conn_idle_timeout none", route(`{"conn_idle_timeout":"none","backends":[{"cmd":"internal"}]}`), `routes["8080"].conn_idle_timeout: "none" (or zero) is not allowed`},
		{"backoff none", route(`{"restart":{"backoff":"none"},"backends":[{"cmd":"internal"}]}`), `routes["8080"].restart.backoff: "none" (or zero) is not allowed`},
		{"max_backoff none", route(`{"restart":{"max_backoff":"none"},"backends":[{"cmd":"internal"}]}`), `routes["8080"].restart.max_backoff: "none" (or zero) is not allowed`},
		{"zero start_timeout", route(`{"start_timeout":"0s","backends":[{"cmd":"internal"}]}`), `routes["8080"].start_timeout: "none" (or zero) is not allowed`},
		{"zero backoff", route(`{"restart":{"backoff":"0ms"},"backends":[{"cmd":"internal"}]}`), `routes["8080"].restart.backoff: "none" (or zero) is not allowed`},
		{"DEL in a CORS method", route(`{"cors":{"allow_methods":["GE\u007fT"]},"backends":[{"cmd":"internal"}]}`), `routes["8080"].cors.allow_methods`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.doc))
			if err == nil {
				t.Fatalf("no error for %s", tt.doc)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q\nwant it to contain %q", err, tt.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not match ErrInvalid", err)
			}
		})
	}
}

// Every decoding problem in a document is reported, not just the first,
// each on its own line with its path, and a near-miss key names the field
// it was probably meant to be.
func TestDecodeReportsEveryProblem(t *testing.T) {
	doc := `{
  "dashbord_port": "9000",
  "routes": {
    "8080": {"backends": [{"cmd": "", "internal_prot": "9001"}]},
    "8081": {"idle_timeout": 10, "backends": [{"cmd": "./app", "internal_port": "9002", "arg": ["-v"], "zzz": 1}]}
  }
}`
	_, err := Decode([]byte(doc))
	if err == nil || !errors.Is(err, ErrInvalid) {
		t.Fatalf("err %v", err)
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{
		`dashbord_port: unknown field; did you mean "dashboard_port"?`,
		`routes["8080"].backends[0].internal_prot: unknown field; did you mean "internal_port"?`,
		`routes["8081"].idle_timeout: want a string, got a number`,
		`routes["8081"].backends[0].arg: unknown field; did you mean "args"?`,
		`routes["8081"].backends[0].zzz: unknown field (known: `,
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%v", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d: %q\nwant it to begin %q", i, lines[i], w)
		}
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Path != "dashbord_port" {
		t.Fatalf("errors.As gives %+v, want the first problem", fe)
	}
	// Load says how many, and starts each on its own line.
	path := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	if want := "config: " + path + ": 5 problems:\ndashbord_port: unknown field"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Load: %v\nwant it to begin %q", err, want)
	}
}

func TestNearestField(t *testing.T) {
	names := []string{"cmd", "args", "internal_port", "internal_host", "env", "cwd"}
	for key, want := range map[string]string{
		"internal_prot": "internal_port", "Internal_Port": "internal_port", "arg": "args",
		"cdm": "cmd", "x": "", "port": "", "environment": "", "": "",
	} {
		if got := nearest(key, names); got != want {
			t.Errorf("nearest(%q) = %q, want %q", key, got, want)
		}
	}
}

// A config saved with a UTF-8 byte order mark (some Windows editors) loads.
func TestDecodeSkipsBOM(t *testing.T) {
	c, err := Decode([]byte("\xef\xbb\xbf" + `{"routes":{"8080":{"backends":[{"cmd":"internal"}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Routes["8080"]; !ok {
		t.Fatalf("routes %v", c.Routes)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	_, err := Decode([]byte(`{"routes":{"1":{"protocol":"x","load_balance":"y","backends":[]}}}`))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`routes["1"].protocol`, `routes["1"].load_balance`, `routes["1"].backends`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %s in %v", want, err)
		}
	}
}

func TestCommentsAreSkippedAndNullIsZero(t *testing.T) {
	c, err := Decode([]byte(`{"//": "hello", "routes": {"//x": 1, "80": {"//": [1,2], "name": null, "backends": [{"cmd": "internal", "args": null}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Routes) != 1 || c.Routes["80"].Name != "" {
		t.Fatalf("%+v", c)
	}
}

func TestDefaultDocument(t *testing.T) {
	c, err := Decode([]byte(DefaultDocument))
	if err != nil {
		t.Fatal(err)
	}
	if !Equal(c, Default()) {
		t.Fatalf("DefaultDocument decodes to %+v, Default() is %+v", c, Default())
	}
	// The examples inside the "//routes" comment must themselves be valid.
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(DefaultDocument), &doc); err != nil {
		t.Fatal(err)
	}
	ex := []byte(`{"routes": ` + string(doc["//routes"]) + `}`)
	ec, err := Decode(ex)
	if err != nil {
		t.Fatalf("the documented examples are invalid: %v", err)
	}
	if len(ec.Routes) != 4 {
		t.Fatalf("examples: %d routes", len(ec.Routes))
	}
}

func TestNormalizedDefaults(t *testing.T) {
	c, err := Decode([]byte(gopherMesh))
	if err != nil {
		t.Fatal(err)
	}
	n := c.Normalized()
	r := n.Routes["8081"]
	if r.Protocol != ProtocolHTTP || r.LoadBalance != BalanceRoundRobin || r.Bind != DefaultBind || r.Name != "health" {
		t.Fatalf("8081: %+v", r)
	}
	if r.StartTimeout.Std() != DefaultStartTimeout || r.IdleTimeout.Std() != 0 || r.ReadHeaderTimeout.Std() != DefaultReadHeaderTimeout {
		t.Fatalf("timeouts: %+v", r)
	}
	if r.CORS.Mode != CORSTrusted || r.Readiness.Type != ReadyTCP || r.Restart.Policy != RestartOnDemand {
		t.Fatalf("sub-objects: %+v %+v %+v", r.CORS, r.Readiness, r.Restart)
	}
	w := n.Routes["8082"]
	if w.RequestTimeout.Std() != DefaultStdioRequestTimeout || w.MaxBodyBytes != DefaultStdioMaxBody || w.Readiness.Type != ReadyNone {
		t.Fatalf("stdio http: %+v", w)
	}
	if n.Routes["2222"].ConnIdleTimeout.Std() != 0 {
		t.Fatal("tcp routes must not idle out by default")
	}
	if r.SendTimeout.Std() != DefaultSendTimeout || n.Routes["2222"].SendTimeout != Disabled || w.SendTimeout != Disabled {
		t.Fatalf("send_timeout: http %v, tcp %v, stdio http %v", r.SendTimeout, n.Routes["2222"].SendTimeout, w.SendTimeout)
	}
	if n.Routes["8080"].Backends[0].Weight != 1 {
		t.Fatal("weight default")
	}
	if !Equal(n, c) || !Equal(n.Normalized(), n) {
		t.Fatal("Normalized is not idempotent / not Equal to its source")
	}
	if c.Routes["8081"].CORS != nil {
		t.Fatal("Normalized modified its receiver")
	}
}

func TestDurationNone(t *testing.T) {
	c, err := Decode([]byte(`{"routes":{"80":{"send_timeout":"none","start_timeout":"1m30s","backends":[{"cmd":"internal"}]},
		"81":{"protocol":"tcp","conn_idle_timeout":"none","backends":[{"cmd":"","internal_port":"9"}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Normalized().Routes["80"]
	if r.SendTimeout != Disabled || r.SendTimeout.Std() != 0 || r.StartTimeout.Std() != 90*time.Second {
		t.Fatalf("%v %v", r.SendTimeout, r.StartTimeout)
	}
	if d := c.Normalized().Routes["81"].ConnIdleTimeout; d != Disabled {
		t.Fatalf("tcp conn_idle_timeout %v", d)
	}
	data, _ := Marshal(c)
	if !strings.Contains(string(data), `"send_timeout": "none"`) || !strings.Contains(string(data), `"start_timeout": "1m30s"`) {
		t.Fatalf("marshal: %s", data)
	}
}

func TestCompare(t *testing.T) {
	base, err := Decode([]byte(gopherMesh))
	if err != nil {
		t.Fatal(err)
	}
	if d := Compare(base, base); !d.Empty() || len(d.Unchanged) != 5 {
		t.Fatalf("identical: %+v", d)
	}
	// Writing defaults out is not a change.
	if d := Compare(base, base.Normalized()); !d.Empty() {
		t.Fatalf("normalized: %+v", d)
	}
	next := base.Clone()
	delete(next.Routes, "2222")
	r := next.Routes["8080"]
	r.Backends[1].InternalPort = "9003"
	r.Backends = append(r.Backends, Backend{Name: "c", InternalPort: "9004"})
	next.Routes["8080"] = r
	next.Routes["9999"] = Route{Backends: []Backend{{Cmd: InternalCmd}}}
	d := Compare(base, next)
	if strings.Join(d.Added, ",") != "9999" || strings.Join(d.Removed, ",") != "2222" || strings.Join(d.Changed, ",") != "8080" || len(d.Unchanged) != 3 || d.Global {
		t.Fatalf("diff %+v", d)
	}
	if base.Routes["8080"].Backends[1].InternalPort != "9002" {
		t.Fatal("Clone shares backends")
	}
	rd := CompareRoute("8080", base.Routes["8080"], next.Routes["8080"])
	if rd.Settings || rd.Listener || strings.Join(rd.Unchanged, ",") != "a" || strings.Join(rd.Changed, ",") != "b" || strings.Join(rd.Added, ",") != "c" {
		t.Fatalf("route diff %+v", rd)
	}
	g := base.Clone()
	g.TrustedOrigins = []string{"http://localhost:3000"}
	if d := Compare(base, g); !d.Global || len(d.Changed) != 0 {
		t.Fatalf("global: %+v", d)
	}
	b2 := next.Routes["8080"]
	b2.Bind = "0.0.0.0"
	if rd := CompareRoute("8080", next.Routes["8080"], b2); !rd.Listener || !rd.Settings {
		t.Fatalf("bind change: %+v", rd)
	}
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "config.json")
	c, created, err := LoadOrCreate(path)
	if err != nil || !created {
		t.Fatalf("first start: created=%v err=%v", created, err)
	}
	if !Equal(c, Default()) {
		t.Fatal("first start did not load the default")
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("default file: %v %v", fi.Mode(), err)
	}
	if err := WriteDefault(path); err == nil {
		t.Fatal("WriteDefault overwrote an existing file")
	}
	if _, created, err := LoadOrCreate(path); err != nil || created {
		t.Fatalf("second start: created=%v err=%v", created, err)
	}

	// Save is atomic and refuses an invalid config without touching the file.
	before, _ := os.ReadFile(path)
	bad := c.Clone()
	bad.Routes["1"] = Route{}
	if err := Save(path, bad); err == nil || !strings.Contains(err.Error(), `routes["1"].backends`) {
		t.Fatalf("Save(invalid) = %v", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Fatal("an invalid Save changed the file")
	}
	good := c.Clone()
	good.Routes["18081"] = Route{Name: "x", Backends: []Backend{{Cmd: InternalCmd}}}
	if err := Save(path, good); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil || !Equal(got, good) {
		t.Fatalf("reload after Save: %v", err)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Fatalf("temporary files left behind: %v", ents)
	}
	if _, err := Load(filepath.Join(dir, "missing.json")); err == nil {
		t.Fatal("Load of a missing file succeeded")
	}
	os.WriteFile(path, []byte(`{"routes":{"1":{"backends":[{"cmd":"","internal_port":"x"}]}}}`), 0o600)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `routes["1"].backends[0].internal_port`) {
		t.Fatalf("Load error %v", err)
	}
}
