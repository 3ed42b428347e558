//go:build !race

package buildinfo

const race = false
