package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Interpreted Go jobs through the daemon: output, stdin, exit codes,
// compile errors shown in ps, and many jobs started at once in one group.
func TestInterpretedJobs(t *testing.T) {
	n := newNode(t)
	n.requireGroups()
	n.start()
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("hello.go", helloGo)
	write("upper.go", `package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

func main() {
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		fmt.Println(strings.ToUpper(sc.Text()), len(os.Args))
	}
	os.Exit(5)
}
`)
	write("broken.go", "package main\n\nfunc main() { undefinedThing() }\n")
	idle := write("idle.go", idleGo)

	r := n.runIn(dir, nil, "run", "-i", "--rm", "--group", "g", "hello.go")
	if r.code != 0 || r.stdout != "hello\n" {
		t.Fatalf("run -i hello.go: %v", r)
	}
	// Piped stdin into an interpreted job; its os.Exit ends the job, not the group.
	r = n.runIn(dir, strings.NewReader("ab\ncd\n"), "run", "-i", "--group", "g", "upper.go", "x", "y")
	if r.code != 5 || r.stdout != "AB 3\nCD 3\n" {
		t.Fatalf("run -i upper.go: %v", r)
	}
	bad := strings.TrimSpace(n.runIn(dir, nil, "run", "--group", "g", "--mode", "interpreted", "broken.go").stdout)
	j := n.waitState(bad, "failed")
	if !strings.Contains(j.Error, "undefinedThing") {
		t.Fatalf("compile error not in ps: %+v", j)
	}
	if detail := n.must("ps", bad); !strings.Contains(detail, "undefinedThing") {
		t.Fatalf("ps ID lacks the error:\n%s", detail)
	}

	// 100 jobs started concurrently in one group all reach running.
	const count = 100
	ids := make([]string, count)
	var wg sync.WaitGroup
	errs := make(chan error, count)
	for i := range count {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := n.run("run", "--group", "many", "--mode", "interpreted", "--name", fmt.Sprintf("idle%d", i), idle)
			if r.code != 0 {
				errs <- fmt.Errorf("run %d: %v", i, r)
				return
			}
			ids[i] = strings.TrimSpace(r.stdout)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, id := range ids {
		n.waitState(id, "running")
	}
	if hosts := n.groupHosts(); len(hosts) != 2 { // g and many
		t.Fatalf("group hosts: %v", hosts)
	}
}
