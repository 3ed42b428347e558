package stdio

import (
	"context"
	"io"
	"net"
	"net/http"
	"os/exec"
	"testing"
	"time"

	"github.com/warren-mesh/warren/gateway/config"
)

// BenchmarkHTTPWorkerVsForkExec runs the same CGI worker through an HTTP
// request to a stdio http Server and in a bare fork/exec loop (os/exec,
// output read to EOF), alternating in rounds of 50, and reports requests per
// second of both and their ratio (goal ≥ 0.9).
//
//	go test -run '^$' -bench WorkerVsForkExec -benchtime 400x ./gateway/stdio
func BenchmarkHTTPWorkerVsForkExec(b *testing.B) {
	srv := &Server{Path: workerBin, Args: []string{"cgi-hello"}, Mode: config.StdioHTTP}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), l) }()
	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	client := &http.Client{Transport: tr}
	url := "http://" + l.Addr().String() + "/"
	defer func() {
		tr.CloseIdleConnections()
		srv.Close(context.Background())
		<-done
	}()
	viaGateway := func() {
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "hello\n" {
			b.Fatalf("%d %q", resp.StatusCode, body)
		}
	}
	bare := func() {
		out, err := exec.Command(workerBin, "cgi-hello").Output()
		if err != nil || len(out) == 0 {
			b.Fatal(err)
		}
	}
	viaGateway() // warm the connection
	var tGW, tBare time.Duration
	var nGW, nBare int
	b.ResetTimer()
	for i := 0; i < b.N; {
		round := min(50, b.N-i)
		st := time.Now()
		for range round {
			bare()
		}
		tBare += time.Since(st)
		nBare += round
		st = time.Now()
		for range round {
			viaGateway()
		}
		tGW += time.Since(st)
		nGW += round
		i += round
	}
	b.StopTimer()
	rGW := float64(nGW) / tGW.Seconds()
	rBare := float64(nBare) / tBare.Seconds()
	b.ReportMetric(rBare, "forkexec-req/s")
	b.ReportMetric(rGW, "gateway-req/s")
	b.ReportMetric(rGW/rBare, "ratio")
	b.Logf("%d runs each: bare fork/exec %.0f/s, through stdio http %.0f/s, ratio %.3f (goal >= 0.9)", nGW, rBare, rGW, rGW/rBare)
}
