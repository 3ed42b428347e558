package config_test

import (
	"fmt"

	"github.com/warren-mesh/warren/gateway/config"
)

// A GopherMesh config.json decodes unchanged; Normalized fills in every default.
func ExampleDecode() {
	c, err := config.Decode([]byte(`{
	  "dashboard_host": "127.0.0.1", "dashboard_port": "9090", "trusted_origins": null,
	  "routes": {"8080": {"name": "web", "backends": [{"cmd": "", "internal_port": "9001"}]}}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	r := c.Normalized().Routes["8080"]
	fmt.Println(r.Protocol, r.LoadBalance, r.ListenAddr("8080"), r.Backends[0].Addr(), r.StartTimeout)
	// Output: http round_robin 127.0.0.1:8080 127.0.0.1:9001 30s
}

// Errors name the field path.
func ExampleDecode_error() {
	_, err := config.Decode([]byte(`{"routes": {"8080": {"backends": [{"cmd": "", "internal_port": 9001}]}}}`))
	fmt.Println(err)
	// Output: routes["8080"].backends[0].internal_port: want a string, got a number
}

// Compare tells a reload what to touch.
func ExampleCompare() {
	old, _ := config.Decode([]byte(`{"routes": {"1": {"backends": [{"cmd": "internal"}]}, "2": {"backends": [{"cmd": "internal"}]}}}`))
	next, _ := config.Decode([]byte(`{"routes": {"1": {"protocol": "http", "backends": [{"cmd": "internal"}]}, "3": {"backends": [{"cmd": "internal"}]}}}`))
	d := config.Compare(old, next)
	fmt.Println("added", d.Added, "removed", d.Removed, "changed", d.Changed, "unchanged", d.Unchanged)
	// Output: added [3] removed [2] changed [] unchanged [1]
}
