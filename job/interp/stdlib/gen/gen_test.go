package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTablesUpToDate regenerates a sample of the tables (including the
// packages Go added after Yaegi's own tables) and fails when the committed
// files differ, and checks that the committed files are exactly one per
// listed package. Regenerating everything takes minutes on two cores: run
// `make generate && git diff --exit-code job/interp/stdlib` for the full check.
func TestTablesUpToDate(t *testing.T) {
	dir := t.TempDir()
	sample := []string{"errors", "iter", "unique", "strings", "hash/crc32", "crypto/hkdf"}
	if testing.Short() {
		sample = sample[:2]
	}
	lite := map[string]bool{}
	for _, p := range Lite {
		lite[p] = true
	}
	for _, p := range sample {
		if err := extractTo(dir, p, !lite[p]); err != nil {
			t.Fatal(err)
		}
		name := prefix() + "_" + strings.ReplaceAll(p, "/", "_") + ".go"
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("..", name))
		if err != nil {
			t.Fatalf("%s: committed table missing (run go generate ./job/interp/stdlib): %v", p, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: committed table differs from generated (run go generate ./job/interp/stdlib)", name)
		}
	}
	committed, _ := filepath.Glob(filepath.Join("..", "go1_*.go"))
	want := map[string]bool{}
	for _, p := range Packages {
		want[prefix()+"_"+strings.ReplaceAll(p, "/", "_")+".go"] = true
	}
	for _, a := range SyscallArches {
		want[prefix()+"_syscall_linux_"+a+".go"] = true
	}
	for _, f := range committed {
		if !want[filepath.Base(f)] {
			t.Errorf("%s: committed but not generated (stale; run go generate)", f)
		}
		delete(want, filepath.Base(f))
	}
	for f := range want {
		t.Errorf("%s: generated but not committed (run go generate)", f)
	}
}

func TestLiteIsSubset(t *testing.T) {
	all := map[string]bool{}
	for _, p := range Packages {
		all[p] = true
	}
	for _, p := range Lite {
		if !all[p] {
			t.Errorf("lite package %s is not in Packages", p)
		}
	}
}
