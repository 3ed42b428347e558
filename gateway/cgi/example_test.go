package cgi_test

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/warren-mesh/warren/gateway/cgi"
)

func ExampleReadResponse() {
	out := bufio.NewReader(strings.NewReader("Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nno such item\n"))
	resp, err := cgi.ReadResponse(out, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(out) // the rest streams to the client
	fmt.Printf("%d %s %q\n", resp.Status, resp.Header.Get("Content-Type"), body)
	// Output: 404 text/plain "no such item\n"
}
