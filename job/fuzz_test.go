package job

import (
	"bufio"
	"bytes"
	"testing"
)

// FuzzDecodeMsg feeds arbitrary bytes to the control-channel decoder a
// group host and a Manager run on what they read from the socket.
func FuzzDecodeMsg(f *testing.F) {
	f.Add([]byte(`{"op":"run","spec":{"id":"0123456789ab","path":"/bin/true","restart":{"kind":"always"}},"want":"running"}` + "\n"))
	f.Add([]byte(`{"status":{"id":"x","state":"running","pid":3,"seq":9}}` + "\n"))
	f.Add([]byte(`{"o":"aGVsbG8=","x":3}` + "\n"))
	f.Add([]byte("{\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		br := bufio.NewReader(bytes.NewReader(b))
		var req request
		if err := readMsg(br, &req); err == nil && req.Spec != nil {
			_ = req.Spec.normalize() // must not panic on any decoded spec
		}
		var resp response
		_ = decodeMsg(b, &resp)
		_ = resp.error()
		var fr attachFrame
		_ = decodeMsg(b, &fr)
	})
}

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
