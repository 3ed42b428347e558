// Package buildinfo reports what this warren binary is: its version, the VCS
// commit it was built from, the Go version and the build features (tags) that
// decide how much is linked in.
package buildinfo

import (
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
)

// Version is set at link time: -ldflags "-X github.com/warren-mesh/warren/internal/buildinfo.Version=v1.2.3".
var Version = "dev"

// features is filled by build-tagged files (feature_*.go) at init time.
var features []string

// Info describes the running binary.
type Info struct {
	Version   string   `json:"version"`
	Commit    string   `json:"commit"`
	Modified  bool     `json:"modified"`
	GoVersion string   `json:"go_version"`
	Platform  string   `json:"platform"`
	Features  []string `json:"features"`
}

// Get reads the build information embedded by the Go toolchain.
func Get() Info {
	in := Info{
		Version:   Version,
		Commit:    "unknown",
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
		Features:  Features(),
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				in.Commit = s.Value
			case "vcs.modified":
				in.Modified = s.Value == "true"
			}
		}
		if in.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			in.Version = bi.Main.Version
		}
	}
	return in
}

// Features lists the build features, sorted.
func Features() []string {
	out := append([]string(nil), features...)
	if race {
		out = append(out, "race")
	}
	sort.Strings(out)
	return out
}

// String renders Info on one line, as `warren version` prints it.
func (i Info) String() string {
	commit := i.Commit
	if len(commit) > 12 {
		commit = commit[:12]
	}
	if i.Modified {
		commit += "+dirty"
	}
	return "warren " + i.Version + " (commit " + commit + ", " + i.GoVersion + ", " + i.Platform +
		", features: " + strings.Join(i.Features, ",") + ")"
}
