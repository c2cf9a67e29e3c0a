package plugin

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// NewLineHandler is the log handler of a plugin process. The CLI shows a
// plugin's stdout as progress and its stderr as debug output, so levels are
// split the same way: "message key=value ..." lines, Info and Warn to out,
// Debug and Error to debug.
func NewLineHandler(out, debug io.Writer) slog.Handler {
	return &lineHandler{out: out, debug: debug, mu: &sync.Mutex{}}
}

// lineHandler writes "message key=value ..." lines: Info and Warn to out,
// Debug and Error to debug (stock plugins send errors to stderr too).
type lineHandler struct {
	out, debug io.Writer
	mu         *sync.Mutex
	attrs      []slog.Attr
	group      string
}

func (h *lineHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	if r.Level >= slog.LevelWarn && r.Level < slog.LevelError {
		b.WriteString("Warning: ")
	}
	b.WriteString(r.Message)
	for _, a := range h.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value.Resolve())
	}
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", h.prefixed(a.Key), a.Value.Resolve())
		return true
	})
	b.WriteByte('\n')
	w := h.out
	if r.Level < slog.LevelInfo || r.Level >= slog.LevelError {
		w = h.debug
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(w, b.String())
	return err
}

func (h *lineHandler) prefixed(key string) string {
	if h.group == "" {
		return key
	}
	return h.group + "." + key
}

// WithAttrs fixes the keys' group now, so a later WithGroup does not
// rename them.
func (h *lineHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append([]slog.Attr{}, h.attrs...)
	for _, a := range attrs {
		c.attrs = append(c.attrs, slog.Attr{Key: h.prefixed(a.Key), Value: a.Value})
	}
	return &c
}

func (h *lineHandler) WithGroup(name string) slog.Handler {
	c := *h
	if c.group != "" {
		name = c.group + "." + name
	}
	c.group = name
	return &c
}
