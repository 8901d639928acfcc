package testservers

import "syscall"

// sysProcAttr puts a server in its own process group (so Stop can end its
// children too) and has the kernel kill it if the test process dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
