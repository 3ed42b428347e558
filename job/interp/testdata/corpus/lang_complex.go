package main

import (
	"fmt"
	"math/cmplx"
)

func main() {
	c := complex(3, 4)
	fmt.Println(real(c), imag(c), cmplx.Abs(c))
	fmt.Println(c*c, c+2i)
}

// Output:
// 3 4 5
// (-7+24i) (3+6i)
