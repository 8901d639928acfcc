package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/tributary/tributary/internal/config"
)

// runCheck validates a config file and prints every problem, one per line,
// as file:line: key: message. Exit 0 when valid, 1 when not, 2 on usage errors.
func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tributary check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("c", "", "config file to check (required)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *file == "" && fs.NArg() == 1 {
		*file = fs.Arg(0)
	}
	if *file == "" {
		fmt.Fprintln(stderr, "tributary check: give the config file with -c FILE")
		return 2
	}
	if _, err := config.Load(*file); err != nil {
		var p *config.Problems
		if errors.As(err, &p) {
			for _, pr := range p.List {
				fmt.Fprintln(stdout, pr.String())
			}
			fmt.Fprintf(stdout, "%s: %d problem(s)\n", *file, len(p.List))
			return 1
		}
		fmt.Fprintln(stderr, "tributary check:", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: OK\n", *file)
	return 0
}

// runConfig prints the example config or the effective config.
func runConfig(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "example" && args[0] != "show") {
		fmt.Fprintln(stderr, "usage: tributary config example | tributary config show [-c FILE]")
		return 2
	}
	if args[0] == "example" {
		fmt.Fprint(stdout, config.Example())
		return 0
	}
	fs := flag.NewFlagSet("tributary config show", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("c", "", "config file")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	cfg := config.Default()
	if *file != "" {
		var err error
		if cfg, err = config.Load(*file); err != nil {
			fmt.Fprintln(stderr, "tributary config show:", err)
			return 1
		}
	}
	out, err := cfg.YAML()
	if err != nil {
		fmt.Fprintln(stderr, "tributary config show:", err)
		return 1
	}
	stdout.Write(out)
	return 0
}
