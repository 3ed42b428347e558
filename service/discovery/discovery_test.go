package discovery_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/warren-mesh/warren/service/discovery"
)

func TestSocketDir(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "sock")
	d := discovery.NewSocketDir(dir)
	r1, err := d.Register(ctx, discovery.Record{Publisher: "p", Service: "s", ProviderID: "one"})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "p", "s.sock"); r1.Record().Addr != want {
		t.Fatalf("addr %s, want %s", r1.Record().Addr, want)
	}
	// Lookup needs the socket file; the service creates it by listening.
	if err := os.WriteFile(r1.Record().Addr, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	recs, err := d.Lookup(ctx, "p", "s")
	if err != nil || len(recs) != 1 || recs[0].ProviderID != "one" || recs[0].PID != os.Getpid() {
		t.Fatalf("lookup: %+v %v", recs, err)
	}
	_, err = d.Register(ctx, discovery.Record{Publisher: "p", Service: "s", ProviderID: "two"})
	var te *discovery.TakenError
	if !errors.As(err, &te) || te.Holder.ProviderID != "one" || !errors.Is(err, discovery.ErrNameTaken) {
		t.Fatalf("second register: %v", err)
	}
	list, err := d.List(ctx, "p/*")
	if err != nil || len(list) != 1 {
		t.Fatalf("list: %+v %v", list, err)
	}
	if err := r1.Close(); err != nil {
		t.Fatal(err)
	}
	if recs, _ := d.Lookup(ctx, "p", "s"); len(recs) != 0 {
		t.Fatalf("lookup after close: %+v", recs)
	}
	r2, err := d.Register(ctx, discovery.Record{Publisher: "p", Service: "s", ProviderID: "two"})
	if err != nil {
		t.Fatal(err)
	}
	r2.Close()
}

// A crashed provider leaves its socket and lock file behind, unlocked.
func TestSocketDirStale(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "p"), 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "p", "s.sock"), nil, 0o600)
	os.WriteFile(filepath.Join(dir, "p", "s.lock"), []byte(`{"provider":"dead","pid":999999999}`), 0o600)
	d := discovery.NewSocketDir(dir)
	if recs, _ := d.Lookup(ctx, "p", "s"); len(recs) != 0 {
		t.Fatalf("stale entry looked up: %+v", recs)
	}
	if l, _ := d.List(ctx, ""); len(l) != 0 {
		t.Fatalf("stale entry listed: %+v", l)
	}
	r, err := d.Register(ctx, discovery.Record{Publisher: "p", Service: "s", ProviderID: "new"})
	if err != nil {
		t.Fatalf("stale socket blocked register: %v", err)
	}
	defer r.Close()
	if _, err := os.Stat(filepath.Join(dir, "p", "s.sock")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale socket not removed: %v", err)
	}
}

func TestEnsureDirTightensMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	if err := discovery.EnsureDir(dir); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(dir)
	if st.Mode().Perm() != 0o700 {
		t.Fatalf("mode %o", st.Mode().Perm())
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o600)
	if err := discovery.EnsureDir(f); err == nil {
		t.Fatal("a file accepted as socket dir")
	}
}

func TestSocketPathTooLong(t *testing.T) {
	long := filepath.Join(t.TempDir(), string(make([]byte, 0)))
	for len(long) < 100 {
		long = filepath.Join(long, "deeper")
	}
	_, err := discovery.NewSocketDir(long).Register(context.Background(), discovery.Record{Publisher: "publisher", Service: "service"})
	if err == nil {
		t.Fatal("over-long socket path accepted")
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		pat, p, s string
		want      bool
	}{
		{"", "a", "b", true}, {"a/*", "a", "b", true}, {"a/*", "x", "b", false},
		{"b", "a", "b", true}, {"a", "a", "b", true}, {"c*", "a", "b", false}, {"*/*", "a", "b", true},
	} {
		if got := discovery.Match(tc.pat, tc.p, tc.s); got != tc.want {
			t.Errorf("Match(%q, %q, %q) = %v", tc.pat, tc.p, tc.s, got)
		}
	}
}

func TestTable(t *testing.T) {
	ctx := context.Background()
	tb := discovery.NewTable()
	r, err := tb.Register(ctx, discovery.Record{Publisher: "p", Service: "s", ProviderID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Register(ctx, discovery.Record{Publisher: "p", Service: "s"}); !errors.Is(err, discovery.ErrNameTaken) {
		t.Fatalf("taken: %v", err)
	}
	r.Close()
	if recs, _ := tb.Lookup(ctx, "p", "s"); len(recs) != 0 {
		t.Fatal("still registered")
	}
}

// A socket dir handed to another group on purpose keeps that group's
// access (and loses others'): EnsureDir runs in every registering process.
func TestEnsureDirKeepsGivenGroup(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to give a directory to another group")
	}
	dir := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, -1, 65534); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	if err := discovery.EnsureDir(dir); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(dir)
	if st.Mode().Perm() != 0o750 {
		t.Fatalf("mode %o, want 750 (group kept, others out)", st.Mode().Perm())
	}
}
