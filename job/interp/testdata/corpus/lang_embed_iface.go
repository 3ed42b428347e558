package main

// Methods promoted from an embedded interface field: on a struct value, a
// pointer, through another embedded struct, as a method value, with a
// value or a pointer of an interpreted type in the field.

import (
	"bytes"
	"fmt"
	"io"
)

type Notifier interface{ Notify(msg string) string }

type email struct{ addr string }

func (e email) Notify(msg string) string { return e.addr + " <- " + msg }

type pager struct{ num int }

func (p *pager) Notify(msg string) string { return fmt.Sprint("page ", p.num, ": ", msg) }

type alerting struct {
	Notifier
	name string
}

type service struct {
	alerting
	port int
}

type countingWriter struct {
	io.Writer
	n int
}

func (c *countingWriter) add(p []byte) {
	n, _ := c.Write(p)
	c.n += n
}

func main() {
	a := alerting{email{"ops@site"}, "mail"}
	fmt.Println(a.Notify("disk full"))
	p := &alerting{Notifier: &pager{7}, name: "pager"}
	fmt.Println(p.Notify("cpu hot"))
	s := service{alerting{&pager{9}, "svc"}, 8080}
	fmt.Println(s.Notify("restart"))
	send := s.Notify
	fmt.Println(send("later"))
	var n Notifier = a
	fmt.Println(n.Notify("via interface"))

	var buf bytes.Buffer
	cw := &countingWriter{Writer: &buf}
	cw.add([]byte("hello "))
	cw.add([]byte("world"))
	fmt.Println(buf.String(), cw.n)
}

// Output:
// ops@site <- disk full
// page 7: cpu hot
// page 9: restart
// page 9: later
// ops@site <- via interface
// hello world 11
