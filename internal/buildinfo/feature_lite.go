//go:build lite

package buildinfo

// The lite build links a reduced standard-library table into the interpreter.
func init() { features = append(features, "lite") }
