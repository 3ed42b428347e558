package main

// A method value with a value receiver copies the receiver when it is
// evaluated: later changes to the variable do not show in its calls.

import (
	"fmt"
	"time"
)

type reading struct {
	sensor string
	value  int
}

func (r reading) String() string   { return fmt.Sprintf("%s=%d", r.sensor, r.value) }
func (r reading) Scaled(k int) int { return r.value * k }
func (r *reading) Bump()           { r.value++ }

type tagged struct {
	reading
	tag string
}

func main() {
	r := reading{"temp", 20}
	show := r.String
	scale := r.Scaled
	bump := r.Bump // pointer receiver: binds &r
	r.value = 25
	fmt.Println(show(), scale(2), r)
	bump()
	fmt.Println(r.value)

	p := &reading{"hum", 40}
	ps := p.String
	p.value = 41
	fmt.Println(ps())

	var later []func() string
	for i := range 3 {
		r.value = i
		later = append(later, r.String)
	}
	fmt.Println(later[0](), later[1](), later[2]())

	t := tagged{reading{"volt", 3}, "a"}
	promoted := t.String
	t.value = 4
	fmt.Println(promoted(), t)

	at := time.Unix(100, 0).UTC()
	unix := at.Unix
	at = at.Add(time.Second)
	fmt.Println(unix(), at.Unix())

	m := map[string]func() string{}
	for _, name := range []string{"x", "y"} {
		r.sensor = name
		m[name] = r.String
	}
	r.sensor = "z"
	fmt.Println(m["x"](), m["y"]())
}

// Output:
// temp=20 40 temp=25
// 26
// hum=40
// temp=0 temp=1 temp=2
// volt=3 volt=4
// 100 101
// x=2 y=2
