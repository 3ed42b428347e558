package service_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/warren-mesh/warren/service"
)

// Greet is a known message: the server runs Handle for each one received.
type Greet struct{ Name string }

type Greeting struct{ Text string }

func (g Greet) Handle(s *service.Stream) any {
	return Greeting{Text: "hello, " + g.Name}
}

func Example() {
	service.RegisterType(Greet{}, Greeting{}) // needed to cross a process boundary

	dir, _ := os.MkdirTemp("", "warren-example")
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	srv := service.NewServer(service.WithScope(service.ScopeOS), service.WithSocketDir(dir))
	if err := srv.Publish("example", "greeter", Greet{}); err != nil {
		fmt.Println(err)
		return
	}
	go srv.Serve(ctx)
	defer srv.Close(ctx)

	c := service.NewClient(service.WithSocketDir(dir), service.WithDiscoverTimeout(3*time.Second))
	conn, err := c.Discover(ctx, "example", "greeter")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	var g Greeting
	if err := conn.SendRecv(ctx, Greet{Name: "warren"}, &g); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(g.Text, "over scope", conn.Scope())
	// Output: hello, warren over scope --O-
}
