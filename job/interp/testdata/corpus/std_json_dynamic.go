package main

import (
	"encoding/json"
	"fmt"
	"strings"
)

func main() {
	var v map[string]any
	json.Unmarshal([]byte(`{"n":1.5,"s":"x","l":[1,"a",null],"o":{"k":true}}`), &v)
	fmt.Println(v["n"], v["s"], v["l"], v["o"].(map[string]any)["k"])
	dec := json.NewDecoder(strings.NewReader(`{"a":1} {"a":2}`))
	for {
		var m struct{ A int }
		if err := dec.Decode(&m); err != nil {
			break
		}
		fmt.Println(m.A)
	}
	var bad struct{ A int }
	err := json.Unmarshal([]byte(`{"A":"x"}`), &bad)
	fmt.Println(err != nil)
	raw := json.RawMessage(`{"x":1}`)
	out, _ := json.Marshal(struct{ R json.RawMessage }{raw})
	fmt.Println(string(out))
}

// Output:
// 1.5 x [1 a <nil>] true
// 1
// 2
// true
// {"R":{"x":1}}
