// Command worker is the test and benchmark worker of package stdio. Its
// first argument picks a behaviour; it writes its pid into $PIDDIR (if set)
// so tests can check that no child outlives its request.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

func main() {
	if d := os.Getenv("PIDDIR"); d != "" {
		os.WriteFile(filepath.Join(d, strconv.Itoa(os.Getpid())), nil, 0o600)
	}
	mode := "cgi-hello"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	out := os.Stdout
	switch mode {
	case "cgi-hello": // the benchmark worker
		io.WriteString(out, "Content-Type: text/plain\r\n\r\nhello\n")
	case "cgi-echo":
		fmt.Fprintf(out, "Content-Type: text/plain\nX-Method: %s\nX-Query: %s\nX-Length: %s\n\n",
			os.Getenv("REQUEST_METHOD"), os.Getenv("QUERY_STRING"), os.Getenv("CONTENT_LENGTH"))
		io.Copy(out, os.Stdin)
	case "cgi-status":
		io.WriteString(out, "Status: 404 Not Found\nContent-Type: text/plain\nX-Custom: yes\nConnection: close\n\nmissing\n")
	case "cgi-redirect":
		io.WriteString(out, "Location: http://example.test/next\n\n")
	case "cgi-stream": // one chunk, then wait for the client's go-ahead file
		io.WriteString(out, "Content-Type: text/plain\n\nfirst\n")
		gate := os.Getenv("QUERY_STRING")
		for {
			if _, err := os.Stat(gate); err == nil {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		io.WriteString(out, "second\n")
	case "hang":
		time.Sleep(time.Hour)
	case "hang-after-header":
		io.WriteString(out, "Content-Type: text/plain\n\nstarted\n")
		time.Sleep(time.Hour)
	case "big":
		io.WriteString(out, "Content-Type: application/octet-stream\n\n")
		buf := make([]byte, 64<<10)
		for {
			if _, err := out.Write(buf); err != nil {
				os.Exit(3)
			}
		}
	case "bad":
		io.WriteString(out, "this is not a header\n\nbody")
	case "exit1":
		os.Exit(1)
	case "cat":
		io.Copy(out, os.Stdin)
	case "wc": // reads to EOF (the client's half-close), then answers
		n, _ := io.Copy(io.Discard, os.Stdin)
		fmt.Fprintf(out, "%d bytes\n", n)
	case "greet-then-wait": // server speaks first; waits for stdin EOF
		io.WriteString(out, "hello\n")
		io.Copy(io.Discard, os.Stdin)
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", mode)
		os.Exit(2)
	}
}
