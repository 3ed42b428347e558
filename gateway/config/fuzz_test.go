package config

import (
	"errors"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the decoder: it must never panic, every
// error must be an ErrInvalid, and whatever it accepts must survive a
// Marshal/Decode round trip unchanged.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(gopherMesh))
	f.Add([]byte(DefaultDocument))
	f.Add([]byte(`{"routes":{"8080":{"backends":[{"cmd":"","internal_port":"8080"}]}}}`))
	f.Add([]byte(`{"routes":{"1":{"protocol":"stdio","stdio_mode":"http","request_timeout":"none","backends":[{"cmd":"cat","env":{"A":"b"}}]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error not ErrInvalid: %v", err)
			}
			return
		}
		out, err := Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := Decode(out)
		if err != nil {
			t.Fatalf("accepted config does not re-decode: %v\n%s", err, out)
		}
		if !Equal(c, c2) {
			t.Fatalf("round trip changed the config:\n%s", out)
		}
		_ = Compare(c, c2)
	})
}
