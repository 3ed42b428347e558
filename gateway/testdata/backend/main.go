// Command backend is the test backend of package gateway's tests and
// benchmarks: a small HTTP (and TCP echo) server with switches for the
// failure modes the gateway must handle.
package main

import (
	"crypto/sha1"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	httpAddr := flag.String("http", "", "serve HTTP on this address")
	tcpAddr := flag.String("tcp", "", "serve a TCP echo on this address")
	delay := flag.Duration("delay", 0, "wait this long before listening")
	mode := flag.String("mode", "", "never (never listen), exit (exit at once with status 3)")
	name := flag.String("name", "backend", "name reported in responses")
	sinkAddr := flag.String("sink", "", "serve a TCP sink on this address: read to EOF, answer the byte count")
	drain := flag.Bool("drain", false, "on SIGTERM, stop accepting and finish the open echo connections (up to 10s) before exiting")
	flag.Parse()
	fmt.Printf("pid %d starting\n", os.Getpid())
	switch *mode {
	case "exit":
		fmt.Println("exiting as asked")
		os.Exit(3)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	if *mode == "never" {
		<-sig // runs, never listens
		return
	}
	time.Sleep(*delay)
	var echoLn net.Listener
	var echoes sync.WaitGroup // open echo connections
	acceptDone := make(chan struct{})
	if *tcpAddr != "" {
		ln, err := listen(*tcpAddr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		echoLn = ln
		go func() {
			defer close(acceptDone)
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				echoes.Add(1)
				go func() {
					defer echoes.Done()
					defer c.Close()
					io.Copy(c, c)
				}()
			}
		}()
	}
	if *sinkAddr != "" {
		ln, err := listen(*sinkAddr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					// A 1 MiB buffer: io.Discard's 8 KiB would make the sink the bottleneck.
					buf := make([]byte, 1<<20)
					var n int64
					for {
						m, err := c.Read(buf)
						n += int64(m)
						if err != nil {
							break
						}
					}
					fmt.Fprintf(c, "%d", n)
				}()
			}
		}()
		fmt.Printf("pid %d listening on %s\n", os.Getpid(), ln.Addr())
	}
	if *httpAddr != "" {
		ln, err := listen(*httpAddr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		pid := fmt.Sprint(os.Getpid())
		mux := http.NewServeMux()
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Pid", pid)
			io.WriteString(w, *name+" "+pid)
		})
		mux.HandleFunc("/pid", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, pid) })
		mux.HandleFunc("/crash", func(w http.ResponseWriter, r *http.Request) {
			fmt.Println("crashing as asked")
			os.Exit(4)
		})
		mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
			d, _ := time.ParseDuration(r.URL.Query().Get("d"))
			time.Sleep(d)
			io.WriteString(w, "slow "+pid)
		})
		mux.HandleFunc("/sse", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			for i := range 3 {
				fmt.Fprintf(w, "data: %d\n\n", i)
				w.(http.Flusher).Flush()
				time.Sleep(20 * time.Millisecond)
			}
		})
		mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
			if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
				http.Error(w, "not an upgrade", 400)
				return
			}
			h := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
			c, rw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer c.Close()
			fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", base64.StdEncoding.EncodeToString(h[:]))
			rw.Flush()
			buf := make([]byte, 4096)
			for {
				n, err := rw.Read(buf)
				if n > 0 {
					c.Write(buf[:n])
				}
				if err != nil {
					return
				}
			}
		})
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		fmt.Printf("pid %d listening on %s\n", os.Getpid(), ln.Addr())
	}
	<-sig
	fmt.Printf("pid %d stopping\n", os.Getpid())
	if *drain && echoLn != nil {
		echoLn.Close()
		<-acceptDone // a connection accepted just before the close is counted
		done := make(chan struct{})
		go func() { echoes.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
	}
}

// listen uses the socket the gateway passed as fd 3 (socket activation,
// systemd's protocol: LISTEN_FDS, LISTEN_PID) when there is one, once.
func listen(addr string) (net.Listener, error) {
	if os.Getenv("LISTEN_FDS") == "" {
		return net.Listen("tcp", addr)
	}
	if n, _ := strconv.Atoi(os.Getenv("LISTEN_FDS")); n != 1 {
		return nil, fmt.Errorf("LISTEN_FDS=%q, want 1", os.Getenv("LISTEN_FDS"))
	}
	if pid, _ := strconv.Atoi(os.Getenv("LISTEN_PID")); pid != os.Getpid() {
		return nil, fmt.Errorf("LISTEN_PID=%q, want this process's pid %d", os.Getenv("LISTEN_PID"), os.Getpid())
	}
	name := os.Getenv("LISTEN_FDNAMES")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDNAMES")
	f := os.NewFile(3, name)
	ln, err := net.FileListener(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("socket activation: %w", err)
	}
	fmt.Printf("pid %d activated with socket %q on %s\n", os.Getpid(), name, ln.Addr())
	return ln, nil
}
