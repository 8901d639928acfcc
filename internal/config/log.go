package config

import "log/slog"

// Log configures Tributary's own logs, written with log/slog to stderr.
type Log struct {
	// Level is the least severe level written: debug, info, warn or error.
	Level string `yaml:"level" default:"info"`
	// Format is "text" (key=value, for people) or "json" (one object per line, for shippers).
	Format string `yaml:"format" default:"text"`
}

// SlogLevel returns Level as a slog.Level.
func (l Log) SlogLevel() slog.Level {
	switch l.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

func (l *Log) validate(report func(path, msg string)) {
	oneOf(report, "level", l.Level, "debug", "info", "warn", "error")
	oneOf(report, "format", l.Format, "text", "json")
}
