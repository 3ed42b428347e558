package main

import (
	"fmt"
	"math"
	"math/bits"
)

func main() {
	fmt.Println(math.Sqrt(16), math.Floor(-2.5), math.Ceil(2.1), math.Abs(-3))
	fmt.Printf("%.4f %.4f\n", math.Sin(math.Pi/2), math.Log(math.E))
	fmt.Println(math.Inf(1), math.IsNaN(math.NaN()), math.MaxInt32, math.Pow(2, 10))
	fmt.Println(bits.OnesCount(255), bits.LeadingZeros64(1), bits.Len(8))
	fmt.Println(7/2, -7/2, 7%3, -7%3, 7.0/2)
}

// Output:
// 4 -3 3 3
// 1.0000 1.0000
// +Inf true 2147483647 1024
// 8 63 4
// 3 -3 1 -1 3.5
