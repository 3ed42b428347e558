package job_test

import (
	"fmt"

	"github.com/warren-mesh/warren/job"
)

func ExampleParseRestartPolicy() {
	for _, s := range []string{"no", "on-failure:3", "always", "sometimes"} {
		p, err := job.ParseRestartPolicy(s)
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Printf("%s -> kind %s, max retries %d\n", s, p.Kind, p.MaxRetries)
	}
	// Output:
	// no -> kind no, max retries 0
	// on-failure:3 -> kind on-failure, max retries 3
	// always -> kind always, max retries 0
	// error: job: parse restart policy "sometimes": bad job spec (want no, on-failure[:N] or always)
}

func ExampleParseJobList() {
	_, specs, err := job.ParseJobList([]byte(`
options: {group: sensors}
jobs:
  - {name: poller, path: /opt/poller.go, restart: on-failure:2}
  - {path: /usr/bin/exporter, group: web}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range specs {
		fmt.Println(s.Name, s.Group, s.Path, s.Restart)
	}
	_, _, err = job.ParseJobList([]byte("jobs:\n  - path: /bin/true\n    restart: sometimes\n"))
	fmt.Println(err)
	// Output:
	// poller sensors /opt/poller.go on-failure:2
	//  web /usr/bin/exporter no
	// job: job list: jobs[0].restart: "sometimes": bad job spec
}
