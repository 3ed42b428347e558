package main

import (
	"fmt"
	"math/rand"
	randv2 "math/rand/v2"
)

func main() {
	r := rand.New(rand.NewSource(42))
	a := r.Intn(100)
	r2 := rand.New(rand.NewSource(42))
	fmt.Println(a == r2.Intn(100))
	p := randv2.New(randv2.NewPCG(1, 2))
	q := randv2.New(randv2.NewPCG(1, 2))
	fmt.Println(p.IntN(1000) == q.IntN(1000))
	n := randv2.IntN(10)
	fmt.Println(n >= 0 && n < 10)
}

// Output:
// true
// true
// true
