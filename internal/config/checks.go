package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Checks shared by the sections' validate methods. Each reports under path
// and, where callers chain checks, returns whether the value was fine.

// oneOf reports value unless it is one of allowed.
func oneOf(report func(path, msg string), path, value string, allowed ...string) {
	for _, a := range allowed {
		if value == a {
			return
		}
	}
	report(path, fmt.Sprintf("expected one of %s; got %q%s", strings.Join(allowed, ", "), value, suggest(value, allowed)))
}

// positiveDuration reports d unless it is greater than zero.
func positiveDuration(report func(path, msg string), path string, d Duration) bool {
	switch {
	case d == Forever:
		report(path, "must be greater than 0 (-1, forever, is not allowed here)")
	case d <= 0:
		report(path, "must be greater than 0")
	default:
		return true
	}
	return false
}

// positiveSize reports b unless 0 < b <= limit.
func positiveSize(report func(path, msg string), path string, b ByteSize, limit int64) bool {
	switch {
	case b == Unlimited:
		report(path, "must be greater than 0 (-1, unlimited, is not allowed here)")
	case b <= 0:
		report(path, "must be greater than 0")
	case int64(b) > limit:
		report(path, fmt.Sprintf("must be at most %d bytes (Kafka sizes are 32-bit), got %s", limit, b))
	default:
		return true
	}
	return false
}

func isBlank(s string) bool { return strings.TrimSpace(s) == "" }

// addrKind says what an address is for: a local one to listen on, where port
// 0 means "pick a free port", or one given to clients, which must be reachable.
type addrKind int

const (
	addrListen addrKind = iota
	addrAdvertised
)

// checkAddress reports addr unless it is a usable host:port for kind.
func checkAddress(report func(path, msg string), path, addr string, kind addrKind) {
	if msg := addressProblem(addr, kind); msg != "" {
		report(path, msg)
	}
}

func addressProblem(addr string, kind addrKind) string {
	if i := strings.Index(addr, "://"); i >= 0 {
		return fmt.Sprintf("expected host:port without a scheme (drop %q), got %q", addr[:i+3], addr)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		var ae *net.AddrError
		if !errors.As(err, &ae) {
			return fmt.Sprintf("expected host:port, got %q", addr)
		}
		if strings.Contains(ae.Err, "too many colons") {
			return fmt.Sprintf("too many colons in address %q (write IPv6 addresses in brackets, like \"[::1]:9092\")", addr)
		}
		return fmt.Sprintf("%s %q", ae.Err, addr)
	}
	if strings.ContainsAny(host, " \t\r\n/") {
		return fmt.Sprintf("host %q in %q is not a host name or IP address", host, addr)
	}
	n, err := strconv.Atoi(port)
	minPort := 0
	if kind == addrAdvertised {
		minPort = 1
	}
	switch {
	case err != nil && !isInteger(port):
		return fmt.Sprintf("port %q in %q is not a number", port, addr)
	case err != nil || n < minPort || n > 65535:
		return fmt.Sprintf("port %s in %q is out of range (%d to 65535)", port, addr, minPort)
	}
	if kind == addrAdvertised {
		if host == "" {
			return fmt.Sprintf("missing host in %q: clients need a name or address they can reach", addr)
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			return fmt.Sprintf("%q binds all interfaces; advertise a name or address clients can reach", addr)
		}
	}
	return ""
}

// isUnspecifiedAddress reports whether addr listens on 0.0.0.0 or [::].
func isUnspecifiedAddress(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsUnspecified()
}

func hasPortZero(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	return err == nil && port == "0"
}
