package config

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// MissingCommands reports the backends whose program cannot be run from
// here: a bare name that is not on $PATH, or a path that does not exist,
// is a directory or is not executable. A relative path is taken from the
// backend's cwd, or from dir (the gateway's working directory) when cwd is
// empty or relative, as the start will take it. These are warnings, not
// errors: the program may be installed before the first request comes,
// but until then every request to the route fails with 502.
func MissingCommands(c Config, dir string) []*FieldError {
	var out []*FieldError
	for _, port := range c.Ports() {
		r := c.Routes[port]
		for i, b := range r.Backends {
			if b.Kind() != KindProcess {
				continue
			}
			if msg := commandProblem(b.Cmd, b.Cwd, dir); msg != "" {
				out = append(out, fieldErr(fmt.Sprintf("routes[%q].backends[%d].cmd", port, i), "%s", msg))
			}
		}
	}
	return out // in route (port) and backend order
}

func commandProblem(cmd, cwd, dir string) string {
	if !strings.Contains(cmd, "/") {
		if _, err := exec.LookPath(cmd); err != nil {
			return fmt.Sprintf("%q is not found in $PATH", cmd)
		}
		return ""
	}
	p := cmd
	if !filepath.IsAbs(p) {
		base := cwd
		if !filepath.IsAbs(base) {
			base = filepath.Join(dir, base)
		}
		p = filepath.Join(base, p)
	}
	fi, err := os.Stat(p)
	switch {
	case err != nil:
		return fmt.Sprintf("%s does not exist", p)
	case fi.IsDir():
		return fmt.Sprintf("%s is a directory", p)
	case fi.Mode().Perm()&0o111 == 0:
		return fmt.Sprintf("%s is not executable", p)
	}
	return ""
}
