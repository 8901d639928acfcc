// Package net is the net input: traffic counters per network interface, with
// Telegraf's names (tag interface; fields bytes_sent, bytes_recv, ...).
package net

import (
	"context"
	_ "embed"
	"fmt"
	gonet "net"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	psnet "github.com/shirou/gopsutil/v4/net"

	"github.com/tributary/tributary/agent"
	"github.com/tributary/tributary/agent/inputs"
	"github.com/tributary/tributary/agent/inputs/internal/hostfs"
)

//go:embed sample.yaml
var sampleConfig string

// Net gathers the net measurement. As in Telegraf, with no Interfaces set it
// leaves out loopback and interfaces that are down; with Interfaces set it
// reports exactly the interfaces matching them.
type Net struct {
	Interfaces []string // glob patterns of interface names

	counters   func(ctx context.Context, perNIC bool) ([]psnet.IOCountersStat, error)
	interfaces func() ([]gonet.Interface, error)
}

// New returns a net input with Telegraf's defaults.
func New() *Net { return &Net{counters: psnet.IOCountersWithContext, interfaces: gonet.Interfaces} }

func init() { inputs.Add("net", func() agent.Input { return New() }) }

// SampleConfig implements agent.Input.
func (*Net) SampleConfig() string { return sampleConfig }

// Init implements agent.Initializer: the patterns must be valid globs.
func (n *Net) Init() error {
	for _, p := range n.Interfaces {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("net: interfaces: %q: %w", p, err)
		}
	}
	return nil
}

// Gather implements agent.Input.
func (n *Net) Gather(ctx context.Context, acc agent.Accumulator) error {
	counters, err := n.counters(ctx, true)
	if err != nil {
		return fmt.Errorf("net: %w", err)
	}
	var usable map[string]bool
	if len(n.Interfaces) == 0 {
		ifaces, err := n.interfaces()
		if err != nil {
			return fmt.Errorf("net: interfaces: %w", err)
		}
		usable = make(map[string]bool)
		for _, i := range ifaces {
			if i.Flags&gonet.FlagLoopback == 0 && i.Flags&gonet.FlagUp != 0 {
				usable[i.Name] = true
			}
		}
	}
	sort.Slice(counters, func(i, j int) bool { return counters[i].Name < counters[j].Name })
	for _, c := range counters {
		if usable != nil && !usable[c.Name] || usable == nil && !n.matches(c.Name) {
			continue
		}
		f := fields(c)
		f["speed"] = speed(ctx, c.Name)
		acc.AddCounter("net", f, map[string]string{"interface": c.Name})
	}
	return nil
}

func (n *Net) matches(name string) bool {
	for _, p := range n.Interfaces {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// speed is the interface's link speed in Mbit/s from sysfs, -1 when the
// kernel does not know it (virtual interfaces), as Telegraf reports it.
func speed(ctx context.Context, iface string) int64 {
	raw, err := os.ReadFile(filepath.Join(hostfs.Sys(ctx), "class", "net", iface, "speed"))
	if err != nil {
		return -1
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
	if err != nil {
		return -1
	}
	return v
}

func fields(c psnet.IOCountersStat) map[string]any {
	return map[string]any{
		"bytes_sent":   c.BytesSent,
		"bytes_recv":   c.BytesRecv,
		"packets_sent": c.PacketsSent,
		"packets_recv": c.PacketsRecv,
		"err_in":       c.Errin,
		"err_out":      c.Errout,
		"drop_in":      c.Dropin,
		"drop_out":     c.Dropout,
	}
}
