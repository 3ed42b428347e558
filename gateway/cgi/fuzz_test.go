package cgi

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"
)

// FuzzReadResponse: the parser never panics, never accepts more header than
// its limit, fails only with ErrMalformed or io.EOF, and what it accepts
// survives being written back and parsed again.
func FuzzReadResponse(f *testing.F) {
	f.Add([]byte("Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nbody"))
	f.Add([]byte("Location: /x\n\n"))
	f.Add([]byte("Content-Type: text/html\nSet-Cookie: a\nSet-Cookie: b\n\n<html>"))
	f.Add([]byte("X: 1\n  folded\n\n"))
	f.Add([]byte("no header at all"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const limit = 1024
		br := bufio.NewReaderSize(bytes.NewReader(data), 16)
		resp, err := ReadResponse(br, limit)
		if err != nil {
			if err != io.EOF && !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if resp.Status < 100 || resp.Status > 999 {
			t.Fatalf("status %d", resp.Status)
		}
		rest, _ := io.ReadAll(br)
		if len(data)-len(rest) > limit {
			t.Fatalf("consumed %d header bytes, limit %d", len(data)-len(rest), limit)
		}
		var out strings.Builder
		fmt.Fprintf(&out, "Status: %d\n", resp.Status)
		keys := make([]string, 0, len(resp.Header))
		for k := range resp.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			for _, v := range resp.Header[k] {
				fmt.Fprintf(&out, "%s: %s\n", k, v)
			}
		}
		out.WriteString("\n")
		again, err := ReadResponse(bufio.NewReader(strings.NewReader(out.String())), 0)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", out.String(), err)
		}
		if again.Status != resp.Status || fmt.Sprint(again.Header) != fmt.Sprint(resp.Header) {
			t.Fatalf("round trip changed %v %v -> %v %v", resp.Status, resp.Header, again.Status, again.Header)
		}
	})
}
