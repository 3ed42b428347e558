package config

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMissingCommands(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	doc := `{"routes": {
  "1": {"protocol": "stdio", "backends": [
    {"cmd": "sh"},
    {"cmd": "warren-no-such-command-anywhere"},
    {"cmd": "./app"},
    {"cmd": "./data.txt"},
    {"cmd": "` + dir + `"},
    {"cmd": "` + dir + `/gone"},
    {"cmd": "./app", "cwd": "/"},
    {"cmd": "cat"}]},
  "2": {"backends": [{"cmd": "", "internal_port": "9"}]}
}}`
	c, err := Decode([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	got := MissingCommands(c, dir)
	want := []string{
		`routes["1"].backends[1].cmd: "warren-no-such-command-anywhere" is not found in $PATH`,
		`routes["1"].backends[3].cmd: ` + dir + `/data.txt is not executable`,
		`routes["1"].backends[4].cmd: ` + dir + ` is a directory`,
		`routes["1"].backends[5].cmd: ` + dir + `/gone does not exist`,
		`routes["1"].backends[6].cmd: /app does not exist`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d problems %v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		if got[i].Error() != w {
			t.Errorf("%d: %q\nwant %q", i, got[i], w)
		}
	}
}
