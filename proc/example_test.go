package proc_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/warren-mesh/warren/proc"
)

func ExampleStart() {
	ring := proc.NewLogRing(4096)
	p, err := proc.Start(context.Background(), proc.Spec{
		Path:   "sh",
		Args:   []string{"-c", "echo started; exit 3"},
		Stdout: ring,
		Grace:  time.Second,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	<-p.Done()
	fmt.Println(p.ExitCode(), ring.Lines(1))
	// Output: 3 [started]
}

func ExampleBackoff() {
	b := proc.Backoff{Base: 100 * time.Millisecond, Cap: time.Second}
	for i := 0; i < 5; i++ {
		fmt.Print(b.Next(i), " ")
	}
	fmt.Println()
	// Output: 100ms 200ms 400ms 800ms 1s
}
