// Command tributary runs any part of Tributary, or all of it, and its admin
// commands. Run "tributary help" for the list.
package main

import (
	"fmt"
	"io"
	"os"
)

// command is one subcommand. run returns the process exit code.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

var commands []command

func init() {
	commands = []command{
		{"run", "run Tributary's main job on embedded defaults (today: the broker and this host's agent)", runAll},
		{"broker", "run the Kafka-protocol broker", runBroker},
		{"agent", "run the agent: host metrics to the broker's metrics topic", runAgent},
		{"check", "validate a config file and print every problem", runCheck},
		{"config", "print the example config (config example) or the effective one (config show -c FILE)", runConfig},
		{"topics", "list, describe, create, delete or alter topics on a running broker", runTopics},
		{"groups", "list, describe, reset or delete consumer groups on a running broker", runGroups},
		{"version", "print the version", func(_ []string, stdout, _ io.Writer) int { fmt.Fprintln(stdout, "tributary", version); return 0 }},
	}
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "tributary: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: tributary <command> [flags]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun \"tributary <command> -h\" for a command's flags.")
}
