package config

import "testing"

// "0s" where the default is no limit (idle_timeout: scale to zero off;
// request_timeout of http) meant exactly that before: a config valid and
// behaving as written must still load.
func TestReviewZeroWhereDefaultIsNone(t *testing.T) {
	for _, doc := range []string{
		`{"routes":{"8080":{"idle_timeout":"0s","backends":[{"cmd":"internal"}]}}}`,
		`{"routes":{"8080":{"request_timeout":"0s","backends":[{"cmd":"internal"}]}}}`,
	} {
		c, err := Decode([]byte(doc))
		if err == nil {
			err = c.Validate()
		}
		if err != nil {
			t.Errorf("%s: %v", doc, err)
		}
	}
}

// "0s" means no limit, as "none", where no limit is allowed: it is no
// longer the default in disguise (a stdio http request_timeout "0s" was
// 30s).
func TestZeroMeansNone(t *testing.T) {
	c, err := Decode([]byte(`{"routes":{"1":{"protocol":"stdio","stdio_mode":"http","request_timeout":"0ms","backends":[{"cmd":"cat"}]},
		"2":{"send_timeout":"0s","backends":[{"cmd":"internal"}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	n := c.Normalized()
	if d := n.Routes["1"].RequestTimeout; d != Disabled {
		t.Errorf("stdio http request_timeout \"0ms\": %v, want none", d)
	}
	if d := n.Routes["2"].SendTimeout; d != Disabled {
		t.Errorf("send_timeout \"0s\": %v, want none", d)
	}
}
