package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warren-mesh/warren/daemon/api"
)

func TestResolveProgram(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello.go"), []byte("package main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(dir, "app"), 0o755)
	tests := []struct {
		arg, want, err string
	}{
		{"hello.go", filepath.Join(dir, "hello.go"), ""},
		{"./app", filepath.Join(dir, "app"), ""},
		{filepath.Join(dir, "hello.go"), filepath.Join(dir, "hello.go"), ""},
		{"missing.go", "", "missing.go: no such file or directory"},
		{"./nope", "", "./nope: no such file or directory"},
		{"sh", "", ""}, // found in $PATH
		{"no-such-command-warren", "", "no such file, directory or command in $PATH"},
		{"", "", "empty program path"},
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			got, err := resolveProgram(dir, tt.arg)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %q, %v; want error %q", got, err, tt.err)
				}
				return
			}
			if err != nil || (tt.want != "" && got != tt.want) || !filepath.IsAbs(got) {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestJobTableAndDetail(t *testing.T) {
	now := time.Now()
	jobs := []api.Job{
		{ID: "aaaa", Spec: api.JobSpec{Name: "web", Group: "g1", Path: "/x/web.go", Args: []string{"-p", "80"}}, State: "running", PID: 42, Started: now.Add(-90 * time.Second), Restarts: 2},
		{ID: "bbbb", Spec: api.JobSpec{Name: "cron", Path: "/bin/true"}, State: "exited", ExitCode: 3, Started: now.Add(-time.Hour), Ended: now.Add(-time.Minute), Error: "exit status 3"},
	}
	var b bytes.Buffer
	if err := writeJobTable(&b, jobs, now); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"ID", "GROUP", "RESTARTS", "aaaa", "g1", "running", "1m30s", "exited(3)", "exited 1m00s ago"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	if err := writeJobDetail(&b, jobs[0], now); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Command:", "/x/web.go -p 80", "PID:", "42", "Mode:", "auto", "Uptime:"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("detail lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	writeJobDetail(&b, jobs[1], now)
	for _, want := range []string{"Exit code:", "3", "Error:", "exit status 3"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("detail lacks %q:\n%s", want, b.String())
		}
	}
	if modeString("auto", "compiled") != "auto (ran compiled)" {
		t.Error(modeString("auto", "compiled"))
	}
}
