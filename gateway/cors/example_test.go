package cors_test

import (
	"fmt"
	"net/http"

	"github.com/warren-mesh/warren/gateway/cors"
)

func ExamplePolicy_Decide() {
	p := &cors.Policy{Origins: []string{"http://localhost:3000"}}
	for _, origin := range []string{"http://localhost:3000", "http://evil.test"} {
		d := p.Decide(cors.Request{Method: "GET", Host: "127.0.0.1:8080", Origin: origin})
		h := http.Header{"Access-Control-Allow-Origin": {"*"}} // what the backend sent
		d.Apply(h)
		fmt.Println(d.Result, d.Status, h.Values("Access-Control-Allow-Origin"), h.Get("Vary"))
	}
	// Output:
	// pass 0 [http://localhost:3000] Origin
	// refuse 403 [] Origin
}
