package service_test

// Benchmarks. Each prints round trips per second (rt/s), p50/p99 latency,
// the same figures for a raw baseline measured in the same run, and the
// ratio (x-raw). Run them with:
//
//	go test -run '^$' -bench . -benchtime 2s ./service/
//
// The OS scope cases run the server in a separate process (this test
// binary re-executed as a child).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/rpc"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"golang.org/x/sys/unix"

	"github.com/warren-mesh/warren/service"
	"github.com/warren-mesh/warren/service/codec"
	"github.com/warren-mesh/warren/service/discovery"
)

const pinEnv = "WARREN_SERVICE_BENCH_PIN"

// latencies collects per-call durations.
type latencies []time.Duration

func (l latencies) pct(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*p)]
}

type result struct {
	n       int
	elapsed time.Duration
	lat     latencies
	cpu     time.Duration // CPU time of both processes, where measured
}

func (r result) rate() float64 { return float64(r.n) / r.elapsed.Seconds() }

// report prints ours against the baseline.
func report(b *testing.B, ours, raw result, unit string, perOp float64) {
	b.ReportMetric(ours.rate()*perOp, unit)
	b.ReportMetric(raw.rate()*perOp, "raw-"+unit)
	b.ReportMetric(ours.rate()/raw.rate(), "x-raw")
	b.ReportMetric(float64(ours.lat.pct(0.5).Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(ours.lat.pct(0.99).Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(raw.lat.pct(0.5).Nanoseconds()), "raw-p50-ns")
	b.ReportMetric(float64(raw.lat.pct(0.99).Nanoseconds()), "raw-p99-ns")
	b.ReportMetric(0, "ns/op")
}

// measure runs op n times for throughput, then up to 20 000 more times
// timing each call for the percentiles.
func measure(b *testing.B, n int, op func() error) result {
	b.Helper()
	r := result{}
	r.add(b, n, op, false)
	r.add(b, min(n, 20000), op, true)
	return r
}

// add runs op n times, adding to the elapsed time (throughput) or, with
// timed set, to the latencies.
func (r *result) add(b *testing.B, n int, op func() error, timed bool) {
	b.Helper()
	if timed {
		for range n {
			t0 := time.Now()
			if err := op(); err != nil {
				b.Fatal(err)
			}
			r.lat = append(r.lat, time.Since(t0))
		}
		return
	}
	start := time.Now()
	for range n {
		if err := op(); err != nil {
			b.Fatal(err)
		}
	}
	r.elapsed += time.Since(start)
	r.n += n
}

// measurePair measures raw and ours in alternating slices of the run, so
// that both see the same load from the rest of the machine.
func measurePair(b *testing.B, n int, rawOp, ourOp func() error) (raw, ours result) {
	b.Helper()
	const rounds = 20
	chunk := max(n/rounds, 1)
	for done := 0; done < n; done += chunk {
		raw.add(b, chunk, rawOp, false)
		ours.add(b, chunk, ourOp, false)
	}
	lchunk := max(min(n, 20000)/rounds, 1)
	for range rounds {
		raw.add(b, lchunk, rawOp, true)
		ours.add(b, lchunk, ourOp, true)
	}
	return raw, ours
}

// BenchmarkProcessSendRecv: sequential SendRecv of {Msg string; Num int32}
// in Process scope against a raw Go channel ping-pong of the same struct.
func BenchmarkProcessSendRecv(b *testing.B) {
	// Baseline: a goroutine echoing over two unbuffered channels.
	req, resp := make(chan Echo), make(chan Echo)
	go func() {
		for v := range req {
			resp <- v
		}
	}()
	defer close(req)
	msg := Echo{Msg: "hello", Num: 42}
	rawOp := func() error {
		req <- msg
		if v := <-resp; v.Num != 42 {
			return fmt.Errorf("bad echo")
		}
		return nil
	}

	table := discovery.NewTable()
	srv := service.NewServer(service.WithScope(service.ScopeProcess), service.WithProcessRegistry(table))
	if err := srv.Publish("bench", "echo", Echo{}); err != nil {
		b.Fatal(err)
	}
	defer srv.Close(context.Background())
	ctx := context.Background()
	conn, err := service.NewClient(service.WithScope(service.ScopeProcess), service.WithProcessRegistry(table)).Discover(ctx, "bench", "echo")
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	st := conn.NewStream()
	var rep EchoReply
	raw, ours := measurePair(b, b.N, rawOp, func() error { return st.SendRecvContext(ctx, msg, &rep) })
	report(b, ours, raw, "rt/s", 1)
}

// NetRPCEcho is the net/rpc service of the bench child.
type NetRPCEcho struct{}

// Echo answers like the service's Echo handler.
func (NetRPCEcho) Echo(req Echo, reply *EchoReply) error {
	*reply = EchoReply{Msg: req.Msg, Num: req.Num}
	return nil
}

// benchChild starts the bench server process: test/child in OS scope and a
// raw echo server on DIR/raw.sock that answers each length-prefixed frame
// with the reply frame the service would send.
func benchChild(b *testing.B, pin bool) (dir string, stop func()) {
	dir, _, stop = benchChildPID(b, pin)
	return dir, stop
}

// benchChildPID is benchChild that also returns the child's pid.
func benchChildPID(b *testing.B, pin bool) (dir string, pid int, stop func()) {
	b.Helper()
	dir, err := os.MkdirTemp("", "wbench")
	if err != nil {
		b.Fatal(err)
	}
	cmd := execSelf("bench", dir)
	if pin {
		cmd.Env = append(cmd.Env, pinEnv+"=1")
	}
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() || sc.Text() != "ready" {
		b.Fatalf("bench child: %q", sc.Text())
	}
	go io.Copy(io.Discard, stdout)
	return dir, cmd.Process.Pid, func() {
		stdin.Close()
		cmd.Wait()
		os.RemoveAll(dir)
	}
}

// pinAll pins every thread of this process to CPU 0 (and threads created
// later, which inherit it) and returns a function restoring the old mask.
func pinAll(b testing.TB) func() {
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		b.Fatal(err)
	}
	set := func(s *unix.CPUSet) {
		ents, _ := os.ReadDir("/proc/self/task")
		for _, e := range ents {
			if tid, err := strconv.Atoi(e.Name()); err == nil {
				unix.SchedSetaffinity(tid, s)
			}
		}
	}
	var one unix.CPUSet
	one.Set(0)
	set(&one)
	return func() { set(&old) }
}

// reqFrame is the exact frame the client library sends for msg on stream 1.
func reqFrame(b testing.TB, typ string, msg any) []byte {
	payload, err := cbor.Marshal(msg)
	if err != nil {
		b.Fatal(err)
	}
	var out bytes.Buffer
	if err := codec.Append(&out, 1, codec.KindMsg, typ, payload, 0); err != nil {
		b.Fatal(err)
	}
	return out.Bytes()
}

// rawPingPong writes frame and reads one length-prefixed reply.
func rawPingPong(c net.Conn, frame, buf []byte) error {
	if _, err := c.Write(frame); err != nil {
		return err
	}
	if _, err := io.ReadFull(c, buf[:4]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(buf[:4])
	_, err := io.ReadFull(c, buf[:n])
	return err
}

func dialBench(b *testing.B, dir string) (*service.Conn, net.Conn) {
	b.Helper()
	conn, err := service.NewClient(service.WithScope(service.ScopeOS), service.WithSocketDir(dir),
		service.WithDiscoverTimeout(10*time.Second)).Discover(context.Background(), "test", "child")
	if err != nil {
		b.Fatal(err)
	}
	rc, err := net.Dial("unix", filepath.Join(dir, "raw.sock"))
	if err != nil {
		b.Fatal(err)
	}
	return conn, rc
}

// BenchmarkOSSequential: two processes, sequential SendRecv in OS scope
// against a raw unix-socket ping-pong of the same bytes, unpinned and with
// both processes pinned to CPU 0.
func BenchmarkOSSequential(b *testing.B) {
	for _, pin := range []bool{false, true} {
		name := "unpinned"
		if pin {
			name = "pinned"
		}
		b.Run(name, func(b *testing.B) {
			if pin {
				defer pinAll(b)()
			}
			dir, stop := benchChild(b, pin)
			defer stop()
			conn, rc := dialBench(b, dir)
			defer conn.Close()
			defer rc.Close()
			msg := Echo{Msg: "hello", Num: 42}
			frame := reqFrame(b, "service_test.Echo", msg)
			buf := make([]byte, 1<<16)
			ctx := context.Background()
			st := conn.NewStream()
			var rep EchoReply
			// Warm both paths, then alternate halves to share the noise.
			rawOp := func() error { return rawPingPong(rc, frame, buf) }
			ourOp := func() error { return st.SendRecvContext(ctx, msg, &rep) }
			measure(b, 100, rawOp) // warm up both paths
			measure(b, 100, ourOp)
			raw, ours := measurePair(b, b.N, rawOp, ourOp)
			report(b, ours, raw, "rt/s", 1)
		})
	}
}

// BenchmarkOS64Streams: 64 goroutines, each on its own stream of ONE
// connection, against 64 goroutines ping-ponging on 64 raw unix sockets.
func BenchmarkOS64Streams(b *testing.B) {
	const par = 64
	dir, pid, stop := benchChildPID(b, false)
	defer stop()
	conn, rc := dialBench(b, dir)
	defer conn.Close()
	rc.Close()
	msg := Echo{Msg: "hello", Num: 42}
	frame := reqFrame(b, "service_test.Echo", msg)

	// A burst: par goroutines, each doing per calls; timed per call. The
	// CPU time both processes spend in it is added to r.cpu.
	burst := func(r *result, ops []func() error, per int) {
		cpu0 := cpuTime(b, 0) + cpuTime(b, pid)
		defer func() { r.cpu += cpuTime(b, 0) + cpuTime(b, pid) - cpu0 }()
		var wg sync.WaitGroup
		lats := make([]latencies, len(ops))
		start := time.Now()
		for i := range ops {
			wg.Go(func() {
				l := make(latencies, 0, per)
				for range per {
					t0 := time.Now()
					if err := ops[i](); err != nil {
						b.Error(err)
						return
					}
					l = append(l, time.Since(t0))
				}
				lats[i] = l
			})
		}
		wg.Wait()
		r.elapsed += time.Since(start)
		r.n += per * len(ops)
		for _, l := range lats {
			r.lat = append(r.lat, l...)
		}
	}
	rawOps, ourOps, rpcOps := make([]func() error, par), make([]func() error, par), make([]func() error, par)
	// net/rpc multiplexes concurrent calls over one connection, like ours.
	rpcc, err := rpc.Dial("unix", filepath.Join(dir, "netrpc.sock"))
	if err != nil {
		b.Fatal(err)
	}
	defer rpcc.Close()
	ctx := context.Background()
	for i := range par {
		c, err := net.Dial("unix", filepath.Join(dir, "raw.sock"))
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		buf := make([]byte, 1<<12)
		rawOps[i] = func() error { return rawPingPong(c, frame, buf) }
		st := conn.NewStream()
		defer st.Close()
		var rep EchoReply
		ourOps[i] = func() error { return st.SendRecvContext(ctx, msg, &rep) }
		var rrep EchoReply
		rpcOps[i] = func() error { return rpcc.Call("NetRPCEcho.Echo", msg, &rrep) }
	}
	// Alternate bursts so that both see the same machine load.
	const rounds = 10
	per := max(b.N/par/rounds, 1)
	var raw, ours, nrpc result
	for range rounds {
		burst(&raw, rawOps, per)
		burst(&ours, ourOps, per)
		burst(&nrpc, rpcOps, per)
	}
	report(b, ours, raw, "rt/s", 1)
	b.ReportMetric(nrpc.rate(), "netrpc-rt/s")
	b.ReportMetric(ours.rate()/nrpc.rate(), "x-netrpc")
	// CPU per round trip, client and server process together: on a
	// 2-core machine 2 s / cpu-us is the ceiling in round trips per second.
	b.ReportMetric(float64(ours.cpu.Microseconds())/float64(ours.n), "cpu-us/rt")
	b.ReportMetric(float64(raw.cpu.Microseconds())/float64(raw.n), "raw-cpu-us/rt")
}

// cpuTime returns the user+system CPU time process pid (0: this one) has
// used so far, from /proc/PID/stat (clock ticks of 10 ms, so measure
// spans of a second or more).
func cpuTime(b *testing.B, pid int) time.Duration {
	b.Helper()
	name := "/proc/self/stat"
	if pid != 0 {
		name = "/proc/" + strconv.Itoa(pid) + "/stat"
	}
	data, err := os.ReadFile(name)
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the parenthesised command name: state is field 3,
	// utime 14 and stime 15.
	i := bytes.LastIndexByte(data, ')')
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		b.Fatalf("%s: short stat line", name)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// BenchmarkOSPayload128K: sequential 128 KiB requests (small reply) in OS
// scope against the same bytes over a raw unix socket, in MB/s.
func BenchmarkOSPayload128K(b *testing.B) {
	dir, stop := benchChild(b, false)
	defer stop()
	conn, rc := dialBench(b, dir)
	defer conn.Close()
	defer rc.Close()
	msg := Big{Data: make([]byte, 128<<10)}
	for i := range msg.Data {
		msg.Data[i] = byte(i)
	}
	frame := reqFrame(b, "service_test.Big", msg)
	buf := make([]byte, 1<<16)
	ctx := context.Background()
	st := conn.NewStream()
	var rep EchoReply
	rawOp := func() error { return rawPingPong(rc, frame, buf) }
	ourOp := func() error { return st.SendRecvContext(ctx, msg, &rep) }
	measure(b, 10, rawOp) // warm up both paths
	measure(b, 10, ourOp)
	raw, ours := measurePair(b, b.N, rawOp, ourOp)
	report(b, ours, raw, "MB/s", float64(len(msg.Data))/1e6)
}

// runBenchChild serves test/child and the raw echo socket (child side).
func runBenchChild(dir string) int {
	if os.Getenv(pinEnv) != "" {
		var one unix.CPUSet
		one.Set(0)
		ents, _ := os.ReadDir("/proc/self/task")
		for _, e := range ents {
			if tid, err := strconv.Atoi(e.Name()); err == nil {
				unix.SchedSetaffinity(tid, &one)
			}
		}
	}
	if f := os.Getenv("WARREN_SERVICE_BENCH_CHILD_PROFILE"); f != "" {
		// Profile the server side: WARREN_SERVICE_BENCH_CHILD_PROFILE=/tmp/child.prof
		out, err := os.Create(f + "." + strconv.Itoa(os.Getpid()))
		if err == nil {
			pprof.StartCPUProfile(out)
			defer pprof.StopCPUProfile()
		}
	}
	srv := service.NewServer(service.WithScope(service.ScopeOS), service.WithSocketDir(dir), service.WithMinWorkers(1))
	if err := srv.Publish("test", "child", Echo{}, Big{}); err != nil {
		fmt.Println("publish:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Serve(ctx)
	ln, err := net.Listen("unix", filepath.Join(dir, "raw.sock"))
	if err != nil {
		fmt.Println("listen:", err)
		return 1
	}
	payload, _ := cbor.Marshal(EchoReply{Msg: "hello", Num: 42})
	var reply bytes.Buffer
	codec.Append(&reply, 1, codec.KindMsg, "service_test.EchoReply", payload, 0)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 1<<20)
				for {
					if _, err := io.ReadFull(c, buf[:4]); err != nil {
						return
					}
					n := binary.BigEndian.Uint32(buf[:4])
					if _, err := io.ReadFull(c, buf[:n]); err != nil {
						return
					}
					if _, err := c.Write(reply.Bytes()); err != nil {
						return
					}
				}
			}()
		}
	}()
	// net/rpc (gob) on DIR/netrpc.sock: the stdlib's multiplexed RPC, the
	// reference the 64-stream benchmark reports beside its raw baseline.
	rs := rpc.NewServer()
	if err := rs.Register(new(NetRPCEcho)); err != nil {
		fmt.Println("net/rpc:", err)
		return 1
	}
	rln, err := net.Listen("unix", filepath.Join(dir, "netrpc.sock"))
	if err != nil {
		fmt.Println("listen:", err)
		return 1
	}
	go func() { // rs.Accept would log the close at the end
		for {
			c, err := rln.Accept()
			if err != nil {
				return
			}
			go rs.ServeConn(c)
		}
	}()
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	rln.Close()
	ln.Close()
	cancel()
	srv.Close(context.Background())
	return 0
}
