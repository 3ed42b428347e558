//go:build unix && !linux

package interp

import "syscall"

func setPdeathsig(a *syscall.SysProcAttr) {}
