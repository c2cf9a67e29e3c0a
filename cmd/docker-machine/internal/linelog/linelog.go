// Package linelog is the slog handler of the docker-machine CLI: log records
// printed as the stock CLI shows driver messages, "(machine) message", one
// line each, next to the command's own progress lines.
package linelog

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
)

// handler prints records at info level and above to one writer and debug
// records to another. Attributes other than the machine name are shown only
// in debug mode; warnings and errors carry their level.
type handler struct {
	mu     *sync.Mutex
	w      io.Writer // info and above
	debugW io.Writer // debug lines, stderr as stock prints them
	level  slog.Level
	debug  bool
	attrs  []slog.Attr
}

// New returns a logger whose info lines go to w and, when debug is set,
// whose debug lines go to debugW (stderr, as stock prints them).
func New(w, debugW io.Writer, debug bool) *slog.Logger {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	return slog.New(&handler{mu: &sync.Mutex{}, w: w, debugW: debugW, level: level, debug: debug})
}

func (h *handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *handler) Handle(_ context.Context, r slog.Record) error {
	machine := ""
	extra := ""
	add := func(a slog.Attr) bool {
		if a.Key == "machine" {
			machine = a.Value.String()
		} else if h.debug {
			extra += fmt.Sprintf(" %s=%v", a.Key, a.Value)
		}
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	line := r.Message + extra
	if machine != "" {
		line = "(" + machine + ") " + line
	}
	if r.Level >= slog.LevelWarn {
		line = r.Level.String() + ": " + line
	}
	w := h.w
	if r.Level < slog.LevelInfo {
		w = h.debugW
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := fmt.Fprintln(w, line)
	return err
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr{}, h.attrs...), attrs...)
	return &c
}

func (h *handler) WithGroup(string) slog.Handler { return h }
