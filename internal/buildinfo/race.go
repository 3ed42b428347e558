//go:build race

package buildinfo

const race = true
