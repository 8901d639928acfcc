// Package hostfs says where the host's /proc and /sys are, the way gopsutil does: a
// gopsutil EnvMap in the context, else $HOST_PROC (for an agent in a container
// with the host's /proc mounted elsewhere), else /proc.
package hostfs

import (
	"context"
	"os"

	"github.com/shirou/gopsutil/v4/common"
)

// Sys returns the root of the host's sys file system ($HOST_SYS, else /sys).
func Sys(ctx context.Context) string {
	if env, ok := ctx.Value(common.EnvKey).(common.EnvMap); ok {
		if p := env[common.HostSysEnvKey]; p != "" {
			return p
		}
	}
	if p := os.Getenv("HOST_SYS"); p != "" {
		return p
	}
	return "/sys"
}

// Proc returns the root of the host's proc file system.
func Proc(ctx context.Context) string {
	if env, ok := ctx.Value(common.EnvKey).(common.EnvMap); ok {
		if p := env[common.HostProcEnvKey]; p != "" {
			return p
		}
	}
	if p := os.Getenv("HOST_PROC"); p != "" {
		return p
	}
	return "/proc"
}
