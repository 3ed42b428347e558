package main

import (
	"fmt"
	"time"
)

func main() {
	var d time.Duration = timeout()
	fmt.Println(d, sorted([]int{3, 1, 2}))
}
