package main

import (
	"fmt"
	"iter"
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

func main0() {
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

type State int

const (
	Idle State = iota
	Running
	Stopped
)

func (s State) String() string {
	switch s {
	case Idle:
		return "idle"
	case Running:
		return "running"
	}
	return "stopped"
}

type Event string

var transitions = map[State]map[Event]State{
	Idle:    {"start": Running},
	Running: {"stop": Stopped, "pause": Idle},
}

func main1() {
	s := Idle
	for _, e := range []Event{"start", "pause", "start", "stop", "start"} {
		next, ok := transitions[s][e]
		if !ok {
			fmt.Printf("%v: ignore %s\n", s, e)
			continue
		}
		fmt.Printf("%v --%s--> %v\n", s, e, next)
		s = next
	}
}

func Map[T, U any](s []T, f func(T) U) []U {
	out := make([]U, 0, len(s))
	for _, v := range s {
		out = append(out, f(v))
	}
	return out
}

func Filter[T any](s []T, keep func(T) bool) []T {
	var out []T
	for _, v := range s {
		if keep(v) {
			out = append(out, v)
		}
	}
	return out
}

func main2() {
	sq := Map([]int{1, 2, 3}, func(i int) int { return i * i })
	fmt.Println(sq)
	strs := Map(sq, func(i int) string { return fmt.Sprintf("<%d>", i) })
	fmt.Println(strs)
	fmt.Println(Filter([]int{1, 2, 3, 4}, func(i int) bool { return i%2 == 0 }))
}

func Upto(n int) iter.Seq[int] {
	return func(yield func(int) bool) {
		for i := 1; i <= n; i++ {
			if !yield(i) {
				return
			}
		}
	}
}

func firstPair(target int) (int, int) {
	for a := range Upto(5) {
		for b := range Upto(5) {
			if a*b == target {
				return a, b
			}
		}
	}
	return 0, 0
}

func main3() {
	fmt.Println(firstPair(12))
	total := 0
	for a := range Upto(3) {
		for b := range Upto(3) {
			if b > a {
				break
			}
			total += a * b
		}
	}
	fmt.Println(total)
}

type Celsius float64

func main4() {
	a, b := 3, 7
	fmt.Println(min(a, b), max(a, b), min(a, b, -1))
	fmt.Println(max(2.5, 1), min("pear", "apple"))
	x, y := Celsius(20.5), Celsius(18)
	fmt.Println(min(x, y))
	const c = min(4, 2, 8)
	fmt.Println(c)
}

func main5() {
	s := []int{3, 1, 4, 1, 5, 9, 2, 6}
	slices.Sort(s)
	fmt.Println(s, slices.Contains(s, 9), slices.Index(s, 4))
	i, found := slices.BinarySearch(s, 5)
	fmt.Println(i, found, slices.Max(s), slices.Min(s))
	fmt.Println(slices.Compact([]int{1, 1, 2, 2, 2, 3}), slices.Equal(s, slices.Clone(s)))
	words := []string{"Banana", "apple", "Cherry"}
	slices.SortFunc(words, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	fmt.Println(words)
	r := []int{1, 2, 3}
	slices.Reverse(r)
	fmt.Println(r, slices.Insert(r, 1, 10, 11), slices.IndexFunc(r, func(x int) bool { return x < 3 }))
	fmt.Println(slices.Delete([]int{0, 1, 2, 3}, 1, 3), slices.Repeat([]string{"x"}, 3))
}

type ID int

func main6() {
	for i := range 3 {
		fmt.Print(i, " ")
	}
	fmt.Println()
	n := 4
	sum := 0
	for i := range n {
		sum += i
	}
	fmt.Println(sum)
	var last ID
	for id := range ID(3) {
		last = id
	}
	fmt.Printf("%T %v\n", last, last)
	count := 0
	for range 5 {
		count++
	}
	fmt.Println(count)
}

func main() {
	main0()
	main1()
	main2()
	main3()
	main4()
	main5()
	main6()
}
