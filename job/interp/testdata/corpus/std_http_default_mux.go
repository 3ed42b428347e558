package main

// A program serving http.DefaultServeMux sees only its own handlers: the
// host process's debug handlers (net/http/pprof, expvar) must not show.
// `go http.Serve(ln, nil)` also passes an untyped nil to a goroutine.

import (
	"fmt"
	"io"
	"net"
	"net/http"
)

func main() {
	http.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hi") })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	go http.Serve(ln, nil)
	for _, p := range []string{"/hello", "/debug/pprof/", "/debug/pprof/cmdline", "/debug/vars"} {
		resp, err := http.Get("http://" + ln.Addr().String() + p)
		if err != nil {
			panic(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b = []byte("-")
		}
		fmt.Println(p, resp.StatusCode, string(b))
	}
}

// Output:
// /hello 200 hi
// /debug/pprof/ 404 -
// /debug/pprof/cmdline 404 -
// /debug/vars 404 -
