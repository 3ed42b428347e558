package main

import (
	"fmt"
	"os/exec"
)

// os/exec is not available to interpreted programs: auto mode falls back
// to the Go toolchain.
func main() {
	err := exec.Command("/bin/sh", "-c", "exit 0").Run()
	fmt.Println("compiled:", err == nil)
}
