package raftnode

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// hcLogger passes raft's hclog output on to slog. Lines below its level
// (Warn by default: raft's Info output is chatter such as "entering follower
// state") are dropped, and a message repeated within repeatEvery is logged
// once, with the number of repeats suppressed meanwhile, so that a dead peer
// does not flood the log with one line per retry per group.
type hcLogger struct {
	l     *slog.Logger
	name  string
	args  []any
	level *levelBox
	lim   *limiter
}

var _ hclog.Logger = (*hcLogger)(nil)

type levelBox struct {
	mu sync.Mutex
	l  hclog.Level
}

func newHCLogger(l *slog.Logger) *hcLogger {
	return &hcLogger{l: l, level: &levelBox{l: hclog.Warn}, lim: newLimiter(10 * time.Second)}
}

func (h *hcLogger) GetLevel() hclog.Level {
	h.level.mu.Lock()
	defer h.level.mu.Unlock()
	return h.level.l
}

func (h *hcLogger) SetLevel(l hclog.Level) {
	h.level.mu.Lock()
	h.level.l = l
	h.level.mu.Unlock()
}

func slogLevel(l hclog.Level) slog.Level {
	switch {
	case l <= hclog.Debug:
		return slog.LevelDebug
	case l == hclog.Info:
		return slog.LevelInfo
	case l == hclog.Warn:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

func (h *hcLogger) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Off || level < h.GetLevel() {
		return
	}
	sl := slogLevel(level)
	if !h.l.Enabled(context.Background(), sl) {
		return
	}
	ok, suppressed := h.lim.allow(msg)
	if !ok {
		return
	}
	all := make([]any, 0, len(h.args)+len(args)+4)
	if h.name != "" {
		all = append(all, "raft", h.name)
	}
	all = append(all, h.args...)
	all = append(all, args...)
	if suppressed > 0 {
		all = append(all, "repeats_suppressed", suppressed)
	}
	h.l.Log(context.Background(), sl, msg, all...)
}

func (h *hcLogger) Trace(msg string, args ...any) { h.Log(hclog.Trace, msg, args...) }
func (h *hcLogger) Debug(msg string, args ...any) { h.Log(hclog.Debug, msg, args...) }
func (h *hcLogger) Info(msg string, args ...any)  { h.Log(hclog.Info, msg, args...) }
func (h *hcLogger) Warn(msg string, args ...any)  { h.Log(hclog.Warn, msg, args...) }
func (h *hcLogger) Error(msg string, args ...any) { h.Log(hclog.Error, msg, args...) }

func (h *hcLogger) IsTrace() bool { return h.GetLevel() <= hclog.Trace }
func (h *hcLogger) IsDebug() bool { return h.GetLevel() <= hclog.Debug }
func (h *hcLogger) IsInfo() bool  { return h.GetLevel() <= hclog.Info }
func (h *hcLogger) IsWarn() bool  { return h.GetLevel() <= hclog.Warn }
func (h *hcLogger) IsError() bool { return h.GetLevel() <= hclog.Error }

func (h *hcLogger) ImpliedArgs() []any { return h.args }

func (h *hcLogger) With(args ...any) hclog.Logger {
	c := *h
	c.args = append(append([]any(nil), h.args...), args...)
	return &c
}

func (h *hcLogger) Name() string { return h.name }

func (h *hcLogger) Named(name string) hclog.Logger {
	c := *h
	if c.name != "" {
		name = c.name + "." + name
	}
	c.name = name
	return &c
}

func (h *hcLogger) ResetNamed(name string) hclog.Logger {
	c := *h
	c.name = name
	return &c
}

func (h *hcLogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(h.StandardWriter(opts), "", 0)
}

func (h *hcLogger) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return lineWriter{h}
}

// lineWriter logs each written line at Info (then filtered by level).
type lineWriter struct{ h *hcLogger }

func (w lineWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimRight(p, "\n"), []byte("\n")) {
		if s := strings.TrimSpace(string(line)); s != "" {
			w.h.Info(s)
		}
	}
	return len(p), nil
}

// limiter lets a message through at most once per period.
type limiter struct {
	period time.Duration
	mu     sync.Mutex
	seen   map[string]*limitEntry
}

type limitEntry struct {
	last       time.Time
	suppressed int
}

func newLimiter(period time.Duration) *limiter {
	return &limiter{period: period, seen: map[string]*limitEntry{}}
}

// allow reports whether msg may be logged now and how many times it was
// suppressed since it was last logged.
func (l *limiter) allow(msg string) (bool, int) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.seen[msg]
	if e == nil {
		if len(l.seen) >= 512 {
			clear(l.seen)
		}
		l.seen[msg] = &limitEntry{last: now}
		return true, 0
	}
	if now.Sub(e.last) < l.period {
		e.suppressed++
		return false, 0
	}
	n := e.suppressed
	e.last, e.suppressed = now, 0
	return true, n
}
