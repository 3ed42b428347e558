package balance

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

type fake struct {
	up     bool
	active int64
	weight int
}

func (f *fake) Available() bool { return f.up }
func (f *fake) Active() int64   { return f.active }
func (f *fake) Weight() int     { return f.weight }

func pool(fs ...*fake) []Candidate {
	out := make([]Candidate, len(fs))
	for i, f := range fs {
		out[i] = f
	}
	return out
}

func up(w int) *fake             { return &fake{up: true, weight: w} }
func down() *fake                { return &fake{up: false, weight: 1} }
func busy(n int64) *fake         { return &fake{up: true, active: n, weight: 1} }
func busyW(n int64, w int) *fake { return &fake{up: true, active: n, weight: w} }

func TestNew(t *testing.T) {
	for _, name := range []string{"", "round_robin", "least_conn", "ip_hash"} {
		if _, err := New(name); err != nil {
			t.Errorf("New(%q): %v", name, err)
		}
	}
	_, err := New("random")
	if !errors.Is(err, ErrUnknownPolicy) {
		t.Fatalf("New(random) = %v, want ErrUnknownPolicy", err)
	}
}

func TestRoundRobin(t *testing.T) {
	tests := []struct {
		name string
		pool []Candidate
		n    int
		want []int
	}{
		{"empty", nil, 2, []int{-1, -1}},
		{"all down", pool(down(), down()), 2, []int{-1, -1}},
		{"cycles", pool(up(1), up(1), up(1)), 6, []int{0, 1, 2, 0, 1, 2}},
		{"skips down", pool(up(1), down(), up(1)), 4, []int{0, 2, 2, 0}},
		{"smooth weighted", pool(up(3), up(1)), 8, []int{0, 0, 1, 0, 0, 0, 1, 0}},
		{"weighted 5:1:1", pool(up(5), up(1), up(1)), 7, []int{0, 0, 1, 0, 2, 0, 0}},
		{"weighted skips down", pool(up(3), down(), up(1)), 4, []int{0, 0, 2, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &RoundRobin{}
			var got []int
			for range tt.n {
				got = append(got, s.Select(tt.pool, ""))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRoundRobinWeightShare(t *testing.T) {
	s := &RoundRobin{}
	p := pool(up(2), up(1), up(7))
	counts := make([]int, 3)
	for range 1000 {
		counts[s.Select(p, "")]++
	}
	if counts[0] != 200 || counts[1] != 100 || counts[2] != 700 {
		t.Fatalf("counts %v, want [200 100 700]", counts)
	}
}

func TestLeastConn(t *testing.T) {
	tests := []struct {
		name string
		pool []Candidate
		want []int // acceptable answers
	}{
		{"empty", nil, []int{-1}},
		{"all down", pool(down()), []int{-1}},
		{"fewest", pool(busy(5), busy(2), busy(9)), []int{1}},
		{"skips down with fewer", pool(busy(5), &fake{up: false, active: 0, weight: 1}, busy(3)), []int{2}},
		{"tie", pool(busy(1), busy(1), busy(4)), []int{0, 1}},
		{"weighted", pool(busyW(4, 4), busyW(2, 1)), []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 50 {
				got := LeastConn{}.Select(tt.pool, "")
				ok := false
				for _, w := range tt.want {
					ok = ok || got == w
				}
				if !ok {
					t.Fatalf("got %d, want one of %v", got, tt.want)
				}
			}
		})
	}
}

func TestLeastConnTieSpreads(t *testing.T) {
	p := pool(busy(0), busy(0), busy(0))
	seen := map[int]bool{}
	for range 300 {
		seen[LeastConn{}.Select(p, "")] = true
	}
	if len(seen) != 3 {
		t.Fatalf("ties chose only %v", seen)
	}
}

func TestIPHash(t *testing.T) {
	h := NewIPHash()
	p := pool(up(1), up(1), up(1), up(1))
	first := map[string]int{}
	spread := map[int]int{}
	for i := range 400 {
		ip := fmt.Sprintf("10.0.%d.%d", i/250, i%250)
		first[ip] = h.Select(p, ip)
		spread[first[ip]]++
	}
	for ip, idx := range first {
		if got := h.Select(p, ip); got != idx {
			t.Fatalf("%s moved from %d to %d", ip, idx, got)
		}
	}
	for i := range 4 {
		if spread[i] < 50 {
			t.Fatalf("backend %d got only %d of 400 clients: %v", i, spread[i], spread)
		}
	}
	// Take backend 2 out: only its clients move.
	p[2].(*fake).up = false
	for ip, idx := range first {
		got := h.Select(p, ip)
		if idx != 2 && got != idx {
			t.Fatalf("%s moved from %d to %d though its backend is up", ip, idx, got)
		}
		if got == 2 {
			t.Fatalf("%s sent to a backend that is down", ip)
		}
	}
	if got := h.Select(pool(down(), down()), "1.2.3.4"); got != -1 {
		t.Fatalf("all down: got %d", got)
	}
}

func TestIPHashWeighted(t *testing.T) {
	h := NewIPHash()
	p := pool(up(3), up(1))
	counts := make([]int, 2)
	for i := range 4000 {
		counts[h.Select(p, fmt.Sprintf("192.168.%d.%d", i/256, i%256))]++
	}
	// Expect about 3000:1000; allow a generous band (hash noise).
	if counts[0] < 2600 || counts[0] > 3400 {
		t.Fatalf("weighted split %v, want about [3000 1000]", counts)
	}
}

func TestPassive(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tests := []struct {
		name    string
		fails   []time.Duration // offsets from t0
		success bool            // a success after the failures
		at      time.Duration
		healthy bool
	}{
		{"no failures", nil, false, 0, true},
		{"below max", []time.Duration{0, 1}, false, 2, true},
		{"tripped", []time.Duration{0, 1, 2}, false, 3, false},
		{"cooldown over", []time.Duration{0, 1, 2}, false, 2 + 5*time.Second, true},
		{"outside window", []time.Duration{0, 1, 11 * time.Second}, false, 11 * time.Second, true},
		{"success resets", []time.Duration{0, 1, 2}, true, 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Passive
			for _, f := range tt.fails {
				p.Fail(t0.Add(f))
			}
			if tt.success {
				p.Succeed()
			}
			if got := p.Healthy(t0.Add(tt.at)); got != tt.healthy {
				t.Fatalf("Healthy = %v, want %v", got, tt.healthy)
			}
		})
	}
}

func TestPassiveCustom(t *testing.T) {
	p := Passive{MaxFails: 1, Cooldown: time.Minute}
	now := time.Now()
	if !p.Fail(now) {
		t.Fatal("first failure should trip MaxFails=1")
	}
	if p.Healthy(now.Add(59 * time.Second)) {
		t.Fatal("healthy inside cooldown")
	}
	p.Reset()
	if !p.Healthy(now) {
		t.Fatal("Reset did not restore")
	}
}

func BenchmarkSelect(b *testing.B) {
	p := pool(up(1), up(1), up(1), up(1))
	for _, name := range []string{"round_robin", "least_conn", "ip_hash"} {
		s, _ := New(name)
		b.Run(name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					s.Select(p, "10.1.2.3")
				}
			})
		})
	}
}
