package job

import (
	"testing"
)

// FuzzParseJobList feeds arbitrary YAML to the job list parser.
func FuzzParseJobList(f *testing.F) {
	f.Add([]byte("version: 1\noptions:\n  restart: always\ngroups:\n  - name: g\n    maxprocs: 2\njobs:\n  - path: /bin/true\n    args: [a, b]\n"))
	f.Add([]byte("jobs:\n  - path: x\n    restart: on-failure:3\n    stopped: true\n"))
	f.Add([]byte("jobs: [&a {path: *a}]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		jl, specs, err := ParseJobList(b)
		if err == nil && len(specs) != len(jl.Jobs) {
			t.Fatalf("%d specs for %d jobs", len(specs), len(jl.Jobs))
		}
	})
}
