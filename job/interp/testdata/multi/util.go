package main

import (
	"slices"
	"time"
)

// timeout uses a qualified type in a second file (Yaegi resolves those by
// file name).
func timeout() time.Duration { return 2 * time.Second }

func sorted(s []int) []int {
	slices.Sort(s)
	return s
}
