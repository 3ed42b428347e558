package gateway

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warren-mesh/warren/internal/testutil"
	"github.com/warren-mesh/warren/proc"
)

// The benchmarks below print their figure and its ratio to a baseline
// measured in the same run. Run them without -race, e.g.
//
//	go test -run '^$' -bench . -benchtime 1x ./gateway/
//
// BenchmarkHTTPProxy needs wrk (and uses nginx when /usr/sbin/nginx exists).

type wrkResult struct {
	rps     float64
	p99     time.Duration
	non2xx  int
	sockErr int
	raw     string
}

var (
	reRPS    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	reP99    = regexp.MustCompile(`\s99%\s+([0-9.]+)(us|ms|s)`)
	reNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	reSock   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

func runWrk(b testing.TB, url string, d time.Duration) wrkResult {
	b.Helper()
	out, err := exec.Command("wrk", "-t2", "-c64", "-d"+d.String(), "--latency", url).CombinedOutput()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	s := string(out)
	r := wrkResult{raw: s}
	if m := reRPS.FindStringSubmatch(s); m != nil {
		r.rps, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := reP99.FindStringSubmatch(s); m != nil {
		v, _ := strconv.ParseFloat(m[1], 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[m[2]]
		r.p99 = time.Duration(v * float64(unit))
	}
	if m := reNon2xx.FindStringSubmatch(s); m != nil {
		r.non2xx, _ = strconv.Atoi(m[1])
	}
	if m := reSock.FindStringSubmatch(s); m != nil {
		for _, x := range m[1:] {
			n, _ := strconv.Atoi(x)
			r.sockErr += n
		}
	}
	return r
}

// startReverseProxy serves net/http/httputil.ReverseProxy with a tuned
// transport in this process: the alternative stack the benchmark compares.
func startReverseProxy(b testing.TB, backendAddr string) string {
	b.Helper()
	target := &url.URL{Scheme: "http", Host: backendAddr}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ErrorLog = log.New(io.Discard, "", 0) // wrk's disconnects at the end of a round
	rp.Transport = &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute, DisableCompression: true}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	b.Cleanup(func() {
		srv.Close()
		<-done
		rp.Transport.(*http.Transport).CloseIdleConnections()
	})
	return ln.Addr().String()
}

// cpuTicks returns utime+stime (clock ticks) of pid, plus its direct
// children when children is set (nginx's workers).
func cpuTicks(pid int, children bool) int64 {
	read := func(p string) (ppid int, ticks int64, ok bool) {
		b, err := os.ReadFile("/proc/" + p + "/stat")
		if err != nil {
			return 0, 0, false
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		f := strings.Fields(s[i+2:])
		// f[0] is state (field 3); ppid is field 4, utime 14, stime 15.
		ppid, _ = strconv.Atoi(f[1])
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		return ppid, u + st, true
	}
	_, total, _ := read(strconv.Itoa(pid))
	if !children {
		return total
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		if pp, t, ok := read(e.Name()); ok && pp == pid {
			total += t
		}
	}
	return total
}

// startBackendProc starts the test backend through proc and waits until it listens.
func startBackendProc(b testing.TB, args ...string) (*proc.Process, string) {
	b.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(b))
	full := append([]string{"-http", addr}, args...)
	p, err := proc.Start(context.Background(), proc.Spec{Path: backendBin, Args: full})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Stop(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := proc.WaitReady(ctx, proc.ReadyCheck{Addr: addr, Exited: p.Done()}); err != nil {
		b.Fatal(err)
	}
	return p, addr
}

const nginxConf = `worker_processes auto;
error_log %[1]s/error.log warn;
pid %[1]s/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  upstream backend { server %[2]s; keepalive 128; }
  server {
    listen 127.0.0.1:%[3]d;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`

// startNginx runs the Debian nginx as a reverse proxy with upstream keepalive.
func startNginx(b testing.TB, backendAddr string) (string, int) {
	b.Helper()
	dir := b.TempDir()
	port := testutil.FreePort(b)
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, nginxConf, dir, backendAddr, port), 0o644); err != nil {
		b.Fatal(err)
	}
	p, err := proc.Start(context.Background(), proc.Spec{Path: "/usr/sbin/nginx", Args: []string{"-e", dir + "/error.log", "-c", conf, "-p", dir, "-g", "daemon off;"}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Stop(context.Background()) })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := proc.WaitReady(ctx, proc.ReadyCheck{Addr: addr, Exited: p.Done()}); err != nil {
		log, _ := os.ReadFile(dir + "/error.log")
		b.Fatalf("nginx: %v\n%s", err, log)
	}
	return addr, p.PID()
}

func BenchmarkHTTPProxy(b *testing.B) {
	if _, err := exec.LookPath("wrk"); err != nil {
		b.Skip("wrk not installed (apt-get install wrk)")
	}
	_, direct := startBackendProc(b)
	_, bport, _ := net.SplitHostPort(direct)
	pub := strconv.Itoa(testutil.FreePort(b))
	startEngine(b, mustConfig(b, fmt.Sprintf(`{"routes": {%q: {"name": "bench", "backends": [{"internal_port": %q}]}}}`, pub, bport)), Options{})
	gw := "127.0.0.1:" + pub
	type target struct {
		name, addr string
		pid        int  // whose CPU time serves the requests; 0: not measured
		children   bool // count the direct children's CPU too (nginx workers)
	}
	targets := []target{{"direct", direct, 0, false}, {"warren", gw, os.Getpid(), false}}
	targets = append(targets, target{"httputil", startReverseProxy(b, direct), os.Getpid(), false})
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		addr, pid := startNginx(b, direct)
		targets = append(targets, target{"nginx", addr, pid, true})
	}
	d := 5 * time.Second
	if s := os.Getenv("WARREN_BENCH_SECONDS"); s != "" {
		n, _ := strconv.Atoi(s)
		d = time.Duration(n) * time.Second
	}
	nrounds := 3
	best := map[string]wrkResult{}
	rounds := map[string][]string{} // req/s of every round, for the log
	cpu := map[string]float64{}     // CPU ticks per 1000 requests, summed over rounds
	reqs := map[string]float64{}    // requests, summed over rounds
	for _, t := range targets {
		runWrk(b, "http://"+t.addr+"/", time.Second) // warm up keep-alive pools
	}
	b.ResetTimer()
	for range nrounds {
		for _, t := range targets {
			var c0 int64
			if t.pid != 0 {
				c0 = cpuTicks(t.pid, t.children)
			}
			r := runWrk(b, "http://"+t.addr+"/", d)
			if t.pid != 0 {
				cpu[t.name] += float64(cpuTicks(t.pid, t.children) - c0)
				reqs[t.name] += r.rps * d.Seconds()
			}
			if r.non2xx > 0 || r.sockErr > 0 {
				b.Fatalf("%s: %d non-2xx, %d socket errors\n%s", t.name, r.non2xx, r.sockErr, r.raw)
			}
			rounds[t.name] = append(rounds[t.name], fmt.Sprintf("%.0f", r.rps))
			if r.rps > best[t.name].rps {
				best[t.name] = r
			}
		}
	}
	b.StopTimer()
	dr, wr := best["direct"], best["warren"]
	b.ReportMetric(wr.rps, "warren-req/s")
	b.ReportMetric(dr.rps, "direct-req/s")
	b.ReportMetric(wr.rps/dr.rps, "warren/direct")
	msg := fmt.Sprintf("best of %d rounds of wrk -t2 -c64 -d%v: direct %.0f req/s p99 %v; warren %.0f req/s p99 %v (%.2fx direct)",
		nrounds, d, dr.rps, dr.p99, wr.rps, wr.p99, wr.rps/dr.rps)
	if hr, ok := best["httputil"]; ok {
		b.ReportMetric(wr.rps/hr.rps, "warren/httputil")
		msg += fmt.Sprintf("; net/http/httputil.ReverseProxy %.0f req/s p99 %v (warren %.2fx it)", hr.rps, hr.p99, wr.rps/hr.rps)
	}
	if nr, ok := best["nginx"]; ok {
		b.ReportMetric(nr.rps, "nginx-req/s")
		b.ReportMetric(wr.rps/nr.rps, "warren/nginx")
		msg += fmt.Sprintf("; nginx %.0f req/s p99 %v (%.2fx direct); warren/nginx %.2fx throughput, p99 %v vs %v",
			nr.rps, nr.p99, nr.rps/dr.rps, wr.rps/nr.rps, wr.p99, nr.p99)
	}
	// CPU per request is robust to a machine shared with other work, where
	// req/s mostly measures how much of the CPU the proxy was given.
	tick := 10 * time.Millisecond // USER_HZ = 100 on Linux
	perReq := func(n string) time.Duration { return time.Duration(cpu[n] / reqs[n] * float64(tick)) }
	msg += fmt.Sprintf("; CPU per request: warren %v, httputil %v", perReq("warren").Round(100*time.Nanosecond), perReq("httputil").Round(100*time.Nanosecond))
	if _, ok := best["nginx"]; ok {
		msg += fmt.Sprintf(", nginx %v (nginx/warren CPU %.2fx)", perReq("nginx").Round(100*time.Nanosecond), float64(perReq("nginx"))/float64(perReq("warren")))
		b.ReportMetric(float64(perReq("nginx"))/float64(perReq("warren")), "nginx-cpu/warren-cpu")
	}
	msg += "; req/s per round:"
	for _, t := range targets {
		msg += fmt.Sprintf(" %s %v", t.name, rounds[t.name])
	}
	b.Log(msg)
}

// sinkCopy sends n bytes to addr, half-closes, and waits for the byte count.
func sinkCopy(b testing.TB, addr string, n int64) time.Duration {
	b.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 1<<20)
	start := time.Now()
	var sent int64
	for sent < n {
		w, err := c.Write(buf[:min(int64(len(buf)), n-sent)])
		if err != nil {
			b.Fatal(err)
		}
		sent += int64(w)
	}
	c.(*net.TCPConn).CloseWrite()
	reply, err := io.ReadAll(c)
	el := time.Since(start)
	if err != nil || string(reply) != strconv.FormatInt(n, 10) {
		b.Fatalf("sink answered %q %v, want %d", reply, err, n)
	}
	return el
}

func BenchmarkTCPProxy1GiB(b *testing.B) {
	const size = 1 << 30
	in := strconv.Itoa(testutil.FreePort(b))
	pub := strconv.Itoa(testutil.FreePort(b))
	sink := "127.0.0.1:" + in
	p, err := proc.Start(context.Background(), proc.Spec{Path: backendBin, Args: []string{"-sink", sink}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Stop(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := proc.WaitReady(ctx, proc.ReadyCheck{Addr: sink, Exited: p.Done()}); err != nil {
		b.Fatal(err)
	}
	// A second route hands its socket to its own sink program (handoff):
	// the gateway starts it and is then out of the data path.
	hpub := strconv.Itoa(testutil.FreePort(b))
	startEngine(b, mustConfig(b, fmt.Sprintf(`{"routes": {%q: {"name": "tcp", "protocol": "tcp", "backends": [{"internal_port": %q}]},
		%q: {"name": "h", "protocol": "tcp", "handoff": true, "backends": [{"cmd": %q, "args": ["-sink", "127.0.0.1:1"]}]}}}`,
		pub, in, hpub, backendBin)), Options{})
	gw, hand := "127.0.0.1:"+pub, "127.0.0.1:"+hpub
	sinkCopy(b, gw, 64<<20) // warm up (and start the hand-off program)
	sinkCopy(b, hand, 64<<20)
	var tDirect, tGW, tHand []time.Duration
	b.ResetTimer()
	for range 3 {
		tDirect = append(tDirect, sinkCopy(b, sink, size))
		tGW = append(tGW, sinkCopy(b, gw, size))
		tHand = append(tHand, sinkCopy(b, hand, size))
	}
	b.StopTimer()
	slicesSort(tDirect)
	slicesSort(tGW)
	slicesSort(tHand)
	d, g, h := tDirect[0], tGW[0], tHand[0] // best of 3 each
	mbps := func(t time.Duration) float64 { return float64(size) / t.Seconds() / (1 << 20) }
	b.ReportMetric(mbps(d), "direct-MiB/s")
	b.ReportMetric(mbps(g), "warren-MiB/s")
	b.ReportMetric(mbps(g)/mbps(d), "warren/direct")
	b.ReportMetric(mbps(h)/mbps(d), "handoff/direct")
	b.Logf("1 GiB, best of 3: direct %v (%.0f MiB/s); proxied by the gateway %v (%.0f MiB/s): %.2fx direct (goal >= 0.95); "+
		"handoff route %v (%.0f MiB/s): %.2fx direct",
		d.Round(time.Millisecond), mbps(d), g.Round(time.Millisecond), mbps(g), mbps(g)/mbps(d),
		h.Round(time.Millisecond), mbps(h), mbps(h)/mbps(d))
}

func slicesSort(d []time.Duration) { sort.Slice(d, func(i, j int) bool { return d[i] < d[j] }) }

// BenchmarkColdStart compares the first response through the gateway from
// a dormant backend with the backend's own time to listen (exec to the
// first accepted connect, polled every 100µs).
func BenchmarkColdStart(b *testing.B) {
	const n = 10
	pub, in := strconv.Itoa(testutil.FreePort(b)), strconv.Itoa(testutil.FreePort(b))
	e := startEngine(b, mustConfig(b, `{"routes": {`+httpRoute(pub, "cold", in, "")+`}}`), Options{})
	url := "http://127.0.0.1:" + pub + "/"
	var own, gw []time.Duration
	b.ResetTimer()
	// Interleaved, so both see the same machine load.
	for range n {
		addr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(b))
		start := time.Now()
		p, err := proc.Start(context.Background(), proc.Spec{Path: backendBin, Args: []string{"-http", addr}})
		if err != nil {
			b.Fatal(err)
		}
		for {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
				break
			}
			time.Sleep(100 * time.Microsecond)
		}
		own = append(own, time.Since(start))
		p.Stop(context.Background())

		start = time.Now()
		code, _ := get(b, url)
		gw = append(gw, time.Since(start))
		if code != 200 {
			b.Fatalf("status %d", code)
		}
		if err := e.Kill(pub); err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		for e.Status().Routes[0].Backends[0].State.String() != "dormant" && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}
	b.StopTimer()
	slicesSort(own)
	slicesSort(gw)
	mo, mg := own[n/2], gw[n/2]
	b.ReportMetric(float64(mo.Microseconds())/1000, "own-listen-ms")
	b.ReportMetric(float64(mg.Microseconds())/1000, "gateway-first-response-ms")
	b.ReportMetric(float64((mg-mo).Microseconds())/1000, "overhead-ms")
	b.Logf("median of %d interleaved runs: backend's own time to listen %v; first response through the gateway %v; overhead %v (goal <= 5ms)",
		n, mo.Round(10*time.Microsecond), mg.Round(10*time.Microsecond), (mg - mo).Round(10*time.Microsecond))
}

// BenchmarkReloadUnderLoad runs wrk against one route while reloading 100
// times (half no-ops, half changing another route) and fails on any
// failed request.
func BenchmarkReloadUnderLoad(b *testing.B) {
	if _, err := exec.LookPath("wrk"); err != nil {
		b.Skip("wrk not installed")
	}
	pa, ia, pb, ib := strconv.Itoa(testutil.FreePort(b)), strconv.Itoa(testutil.FreePort(b)), strconv.Itoa(testutil.FreePort(b)), strconv.Itoa(testutil.FreePort(b))
	doc := func(v int) string {
		return `{"routes": {` + httpRoute(pa, "a", ia, "") + "," + httpRoute(pb, "b", ib, "", "-name", fmt.Sprint("v", v)) + `}}`
	}
	e := startEngine(b, mustConfig(b, doc(0)), Options{})
	if code, _ := get(b, "http://127.0.0.1:"+pa+"/"); code != 200 {
		b.Fatal("route a not serving")
	}
	var wg sync.WaitGroup
	var res wrkResult
	wg.Add(1)
	go func() {
		defer wg.Done()
		res = runWrk(b, "http://127.0.0.1:"+pa+"/", 8*time.Second)
	}()
	b.ResetTimer()
	var reloadTime time.Duration
	for i := range 100 {
		v := i / 2 // every other reload is identical to the previous one
		st := time.Now()
		if err := e.Reload(mustConfig(b, doc(v))); err != nil {
			b.Fatal(err)
		}
		reloadTime += time.Since(st)
		time.Sleep(50 * time.Millisecond)
	}
	wg.Wait()
	b.StopTimer()
	if res.non2xx > 0 || res.sockErr > 0 {
		b.Fatalf("%d non-2xx and %d socket errors during reloads\n%s", res.non2xx, res.sockErr, res.raw)
	}
	b.ReportMetric(res.rps, "req/s-during-reloads")
	b.ReportMetric(0, "failed-requests")
	b.Logf("100 reloads (50 no-op, 50 changing route b) under wrk -t2 -c64 on route a: %.0f req/s, 0 failed requests, mean reload %v",
		res.rps, (reloadTime / 100).Round(time.Microsecond))
}
