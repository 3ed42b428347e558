package interp

import "syscall"

// setPdeathsig kills the program if the host process dies.
func setPdeathsig(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
