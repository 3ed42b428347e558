//go:build !lite

package buildinfo

// The default (full) build links the whole standard-library table into the interpreter.
func init() { features = append(features, "full") }
