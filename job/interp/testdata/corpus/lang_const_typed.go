package main

import (
	"fmt"
	"math"
	"time"
)

const big = 1 << 62
const pi2 = math.Pi * 2

func main() {
	fmt.Println(big>>60, pi2 > 6)
	d := 90 * time.Second
	fmt.Println(d, d.Minutes())
	var f float32 = 1.0 / 3
	fmt.Printf("%.4f %T\n", f, f)
	fmt.Println(math.MaxInt64)
}

// Output:
// 4 true
// 1m30s 1.5
// 0.3333 float32
// 9223372036854775807
