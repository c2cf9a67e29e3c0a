package commands

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
)

// lineHandler prints log records the way the stock CLI shows driver
// messages: "(machine) message", one line each, next to the command's own
// progress lines. Attributes other than the machine name are shown only in
// debug mode.
type lineHandler struct {
	mu      *sync.Mutex
	w       io.Writer // info and above
	debugW  io.Writer // debug lines, stderr as stock prints them
	level   slog.Level
	debug   bool
	machine string
	attrs   []slog.Attr
}

func newLineHandler(w, debugW io.Writer, debug bool) *lineHandler {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	return &lineHandler{mu: &sync.Mutex{}, w: w, debugW: debugW, level: level, debug: debug}
}

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	machine := h.machine
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

func (h *lineHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr{}, h.attrs...), attrs...)
	return &c
}

func (h *lineHandler) WithGroup(string) slog.Handler { return h }
