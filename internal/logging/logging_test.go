package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestNewFormats(t *testing.T) {
	tests := []struct {
		format string
		json   bool
	}{{"json", true}, {"", true}, {"text", false}}
	for _, tt := range tests {
		t.Run("format="+tt.format, func(t *testing.T) {
			var buf bytes.Buffer
			l, err := New(&buf, Options{Level: "debug", Format: tt.format})
			if err != nil {
				t.Fatal(err)
			}
			l.Debug("hello", KeyJob, "j1")
			var m map[string]any
			isJSON := json.Unmarshal(buf.Bytes(), &m) == nil
			if isJSON != tt.json {
				t.Fatalf("output %q: json=%v, want %v", buf.String(), isJSON, tt.json)
			}
			if !strings.Contains(buf.String(), "j1") {
				t.Fatalf("attribute missing from %q", buf.String())
			}
		})
	}
}

func TestBadOptions(t *testing.T) {
	if _, err := New(&bytes.Buffer{}, Options{Level: "loud"}); err == nil || !strings.Contains(err.Error(), "loud") {
		t.Fatalf("bad level: err = %v", err)
	}
	if _, err := New(&bytes.Buffer{}, Options{Format: "xml"}); err == nil || !strings.Contains(err.Error(), "xml") {
		t.Fatalf("bad format: err = %v", err)
	}
}

func TestLevelFilters(t *testing.T) {
	var buf bytes.Buffer
	l, _ := New(&buf, Options{Level: "warn", Format: "text"})
	l.Info("quiet")
	if buf.Len() != 0 {
		t.Fatalf("info logged at warn level: %q", buf.String())
	}
}
