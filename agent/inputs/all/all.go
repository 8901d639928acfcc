// Package all imports every input plugin so that each registers itself.
package all

import (
	_ "github.com/tributary/tributary/agent/inputs/cpu"       // cpu
	_ "github.com/tributary/tributary/agent/inputs/disk"      // disk
	_ "github.com/tributary/tributary/agent/inputs/diskio"    // diskio
	_ "github.com/tributary/tributary/agent/inputs/kernel"    // kernel
	_ "github.com/tributary/tributary/agent/inputs/mem"       // mem
	_ "github.com/tributary/tributary/agent/inputs/net"       // net
	_ "github.com/tributary/tributary/agent/inputs/processes" // processes
	_ "github.com/tributary/tributary/agent/inputs/swap"      // swap
	_ "github.com/tributary/tributary/agent/inputs/system"    // system
)
