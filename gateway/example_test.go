package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"

	"github.com/warren-mesh/warren/gateway"
	"github.com/warren-mesh/warren/gateway/config"
)

// An engine with one route whose backend is the gateway's own health
// handler ("cmd": "internal"), as in GopherMesh's config.json.
func ExampleEngine() {
	port := freePort()
	cfg, err := config.Decode([]byte(`{
		"service_name": "demo",
		"routes": {"` + port + `": {"name": "health", "backends": [{"cmd": "internal"}]}}
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	eng, err := gateway.New(cfg, gateway.Options{
		HealthExtra: func() map[string]any { return map[string]any{"region": "lab"} },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := eng.Start(context.Background()); err != nil { // fails at once if the port is taken
		fmt.Println(err)
		return
	}
	defer eng.Shutdown(context.Background())

	resp, err := http.Get("http://127.0.0.1:" + port + "/healthz")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var h map[string]any
	json.Unmarshal(body, &h)
	fmt.Println(resp.StatusCode, h["status"], h["service"], h["region"])
	fmt.Println(eng.Status().Routes[0].Name, eng.Status().Routes[0].Protocol)
	// Output:
	// 200 ok demo lab
	// health http
}

func freePort() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}
