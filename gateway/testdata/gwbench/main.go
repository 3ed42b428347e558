// Command gwbench serves one HTTP route through package httpproxy to a
// fixed backend address, for profiling the data path in isolation
// (strace -c, perf) outside the test binary.
package main

import (
	"flag"
	"log"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/valyala/fasthttp"

	"github.com/warren-mesh/warren/gateway/backend"
	"github.com/warren-mesh/warren/gateway/httpproxy"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18080", "address to serve on")
	to := flag.String("to", "127.0.0.1:18081", "backend address")
	plain := flag.Bool("plain", false, "serve with a bare fasthttp HostClient proxy (the reference point)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile here, stopped by SIGINT or SIGTERM")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		go func() {
			<-sig
			pprof.StopCPUProfile()
			f.Close()
			os.Exit(0)
		}()
	}
	if *plain {
		hc := &fasthttp.HostClient{Addr: *to}
		log.Fatal(fasthttp.ListenAndServe(*listen, func(ctx *fasthttp.RequestCtx) {
			if err := hc.Do(&ctx.Request, &ctx.Response); err != nil {
				ctx.Error(err.Error(), fasthttp.StatusBadGateway)
			}
		}))
	}
	b, err := backend.New(backend.Config{Name: "b", Addr: *to})
	if err != nil {
		log.Fatal(err)
	}
	p := httpproxy.New(httpproxy.Options{ID: "bench", Name: "bench"}, &httpproxy.Pool{Targets: []*httpproxy.Target{httpproxy.NewTarget(b)}})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(p.Serve(ln))
}
