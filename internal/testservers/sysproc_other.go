//go:build unix && !linux

package testservers

import "syscall"

// sysProcAttr puts a server in its own process group, so Stop can end its
// children too.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
