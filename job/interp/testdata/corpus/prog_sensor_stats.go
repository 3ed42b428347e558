package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

type Reading struct {
	Sensor string
	Value  float64
}

func parse(line string) (Reading, error) {
	name, val, ok := strings.Cut(line, "=")
	if !ok {
		return Reading{}, fmt.Errorf("bad line %q", line)
	}
	v, err := strconv.ParseFloat(val, 64)
	if err != nil {
		return Reading{}, fmt.Errorf("bad value in %q: %w", line, err)
	}
	return Reading{name, v}, nil
}

func main() {
	input := "t1=20.5\nt2=19\nt1=22.5\nbad\nt2=x\nt1=21"
	by := map[string][]float64{}
	for _, l := range strings.Split(input, "\n") {
		r, err := parse(l)
		if err != nil {
			fmt.Println("skip:", err)
			continue
		}
		by[r.Sensor] = append(by[r.Sensor], r.Value)
	}
	names := make([]string, 0)
	for n := range by {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		vs := by[n]
		sum := 0.0
		for _, v := range vs {
			sum += v
		}
		fmt.Printf("%s n=%d min=%.1f max=%.1f mean=%.2f\n", n, len(vs), slices.Min(vs), slices.Max(vs), sum/float64(len(vs)))
	}
	fmt.Println(math.Round(2.5), min(3.5, math.Inf(1)))
}

// Output:
// skip: bad line "bad"
// skip: bad value in "t2=x": strconv.ParseFloat: parsing "x": invalid syntax
// t1 n=3 min=20.5 max=22.5 mean=21.33
// t2 n=1 min=19.0 max=19.0 mean=19.00
// 3 3.5
