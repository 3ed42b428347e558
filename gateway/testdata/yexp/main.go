package main

import (
	"flag"
	"log"
	"net"
	"runtime"

	"github.com/valyala/fasthttp"
)

type yconn struct {
	net.Conn
	wrote bool
}

func (c *yconn) Write(b []byte) (int, error) { c.wrote = true; return c.Conn.Write(b) }
func (c *yconn) Read(b []byte) (int, error) {
	if c.wrote {
		c.wrote = false
		runtime.Gosched()
	}
	return c.Conn.Read(b)
}

type yln struct{ net.Listener }

func (l yln) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &yconn{Conn: c}, nil
}

func main() {
	yield := flag.Bool("yield", false, "")
	flag.Parse()
	hc := &fasthttp.HostClient{Addr: "127.0.0.1:18081"}
	ln, _ := net.Listen("tcp", "127.0.0.1:18080")
	if *yield {
		hc.Dial = func(addr string) (net.Conn, error) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				return nil, err
			}
			return &yconn{Conn: c}, nil
		}
		ln = yln{ln}
	}
	log.Fatal(fasthttp.Serve(ln, func(ctx *fasthttp.RequestCtx) {
		if err := hc.Do(&ctx.Request, &ctx.Response); err != nil {
			ctx.Error(err.Error(), fasthttp.StatusBadGateway)
		}
	}))
}
