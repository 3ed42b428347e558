package codec_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/warren-mesh/warren/service/codec"
)

func frame(t testing.TB, stream uint32, kind codec.Kind, typ string, payload []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := codec.Append(&b, stream, kind, typ, payload, 0); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestRoundTrip(t *testing.T) {
	var b bytes.Buffer
	b.Write(frame(t, 7, codec.KindMsg, "main.Req", []byte{0xa0}))
	b.Write(frame(t, 7, codec.KindClose, "", nil))
	b.Write(frame(t, 0, codec.KindGoAway, "", []byte{0x60}))
	r := codec.NewReader(&b, 0)
	want := []codec.Frame{
		{Stream: 7, Kind: codec.KindMsg, Type: []byte("main.Req"), Payload: []byte{0xa0}},
		{Stream: 7, Kind: codec.KindClose, Type: []byte{}, Payload: []byte{}},
		{Stream: 0, Kind: codec.KindGoAway, Type: []byte{}, Payload: []byte{0x60}},
	}
	for i, w := range want {
		f, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if f.Stream != w.Stream || f.Kind != w.Kind || !bytes.Equal(f.Type, w.Type) || !bytes.Equal(f.Payload, w.Payload) {
			t.Errorf("frame %d: %+v, want %+v", i, f, w)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("end: %v, want io.EOF", err)
	}
}

func TestLayout(t *testing.T) {
	// The documented layout, byte for byte.
	got := frame(t, 0x01020304, codec.KindMsg, "T", []byte{0xf6})
	want := []byte{0, 0, 0, 8, 1, 2, 3, 4, 1, 1, 'T', 0xf6}
	if !bytes.Equal(got, want) {
		t.Fatalf("% x, want % x", got, want)
	}
}

func TestRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"too large", []byte{0, 0, 1, 0, 0, 0, 0, 1, 1, 0}, codec.ErrFrameTooLarge},
		{"huge length", []byte{0xff, 0xff, 0xff, 0xff}, codec.ErrFrameTooLarge},
		{"short", []byte{0, 0, 0, 2, 0, 0}, codec.ErrMalformed},
		{"bad kind", []byte{0, 0, 0, 6, 0, 0, 0, 1, 9, 0}, codec.ErrMalformed},
		{"kind zero", []byte{0, 0, 0, 6, 0, 0, 0, 1, 0, 0}, codec.ErrMalformed},
		{"name overrun", []byte{0, 0, 0, 7, 0, 0, 0, 1, 1, 5, 'a'}, codec.ErrMalformed},
		{"control in name", []byte{0, 0, 0, 8, 0, 0, 0, 1, 1, 2, 'a', '\n'}, codec.ErrMalformed},
		{"msg without type", []byte{0, 0, 0, 7, 0, 0, 0, 1, 1, 0, 0xf6}, codec.ErrMalformed},
		{"bad utf8 name", []byte{0, 0, 0, 7, 0, 0, 0, 1, 1, 1, 0xff}, codec.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := codec.NewReader(bytes.NewReader(tc.in), 64).Next()
			var fe *codec.FrameError
			if !errors.Is(err, tc.want) || !errors.As(err, &fe) {
				t.Fatalf("got %v, want FrameError wrapping %v", err, tc.want)
			}
		})
	}
	// A stream cut inside a frame.
	_, err := codec.NewReader(bytes.NewReader([]byte{0, 0, 0, 9, 1}), 64).Next()
	if err != io.ErrUnexpectedEOF {
		t.Fatalf("truncated: %v", err)
	}
}

func TestWriterLimit(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("keep")
	err := codec.Append(&b, 1, codec.KindMsg, "T", make([]byte, 100), 50)
	if !errors.Is(err, codec.ErrFrameTooLarge) {
		t.Fatalf("got %v", err)
	}
	if b.String() != "keep" {
		t.Fatalf("buffer not restored: %q", b.String())
	}
	long := string(bytes.Repeat([]byte("x"), 256))
	if err := codec.Append(&b, 1, codec.KindMsg, long, nil, 0); !errors.Is(err, codec.ErrMalformed) {
		t.Fatalf("long type name: %v", err)
	}
}

// FuzzReader feeds arbitrary bytes to the frame reader: it must return
// frames or errors, never panic, and every frame it returns must re-encode
// to the same bytes.
func FuzzReader(f *testing.F) {
	f.Add(frame(f, 1, codec.KindMsg, "main.Req", []byte{0xa1, 0x61, 0x41, 0x01}))
	f.Add(frame(f, 0, codec.KindGoAway, "", []byte{0xa1, 0x61, 0x6d, 0x61, 0x78}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 0, 6, 0, 0, 0, 1, 3, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := codec.NewReader(bytes.NewReader(data), 1<<16)
		for range 100 {
			fr, err := r.Next()
			if err != nil {
				return
			}
			var b bytes.Buffer
			if err := codec.Append(&b, fr.Stream, fr.Kind, string(fr.Type), fr.Payload, 1<<16); err != nil {
				t.Fatalf("re-encode of accepted frame: %v", err)
			}
			g, err := codec.Parse(b.Bytes()[codec.LenSize:])
			if err != nil || g.Stream != fr.Stream || g.Kind != fr.Kind || !bytes.Equal(g.Type, fr.Type) || !bytes.Equal(g.Payload, fr.Payload) {
				t.Fatalf("round trip changed frame: %+v vs %+v (%v)", g, fr, err)
			}
		}
	})
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// stutter returns its data a few bytes at a time, with a timeout error
// between every chunk, as a connection with a deadline does.
type stutter struct {
	data []byte
	tick bool
}

func (s *stutter) Read(p []byte) (int, error) {
	s.tick = !s.tick
	if s.tick {
		return 0, timeoutErr{}
	}
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 3)], s.data)
	s.data = s.data[n:]
	return n, nil
}

func TestResumeAfterTimeout(t *testing.T) {
	var b bytes.Buffer
	b.Write(frame(t, 1, codec.KindMsg, "main.Req", []byte("payload one")))
	b.Write(frame(t, 2, codec.KindMsg, "main.Other", []byte("payload two")))
	r := codec.NewReader(&stutter{data: b.Bytes()}, 0)
	var got []string
	timeouts := 0
	for {
		f, err := r.Next()
		if err == io.EOF {
			break
		}
		if te, ok := err.(timeoutErr); ok && te.Timeout() {
			timeouts++
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(f.Type)+":"+string(f.Payload))
	}
	if len(got) != 2 || got[0] != "main.Req:payload one" || got[1] != "main.Other:payload two" || timeouts == 0 {
		t.Fatalf("got %q after %d timeouts", got, timeouts)
	}
}

func TestHasFrame(t *testing.T) {
	f := frame(t, 1, codec.KindMsg, "T", []byte{1, 2, 3})
	pr, pw := io.Pipe()
	r := codec.NewReader(pr, 0)
	go func() {
		pw.Write(append(append([]byte{}, f...), f[:5]...)) // one frame and a half
		pw.Write(f[5:])
		pw.Close()
	}()
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if r.HasFrame() {
		t.Fatal("half a frame reported whole")
	}
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if r.HasFrame() {
		t.Fatal("empty buffer reported a frame")
	}
}
