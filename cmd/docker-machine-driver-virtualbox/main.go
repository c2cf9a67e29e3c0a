// Command docker-machine-driver-virtualbox is the virtualbox driver as a
// docker-machine plugin binary, for CLIs that run plugins for this name
// (ours, and any that look the driver up on PATH).
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/fleetdock/machine/drivers/virtualbox"
	"github.com/fleetdock/machine/libmachine/plugin"
)

func main() {
	// The CLI shows a plugin's stdout as progress and its stderr as debug
	// output, so Info and Warn go to stdout, Debug and Error to stderr.
	opts := &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: dropTime}
	slog.SetDefault(slog.New(splitHandler{
		progress: slog.NewTextHandler(os.Stdout, opts),
		debug:    slog.NewTextHandler(os.Stderr, opts),
	}))
	plugin.Serve(virtualbox.NewDriver("", ""))
}

// dropTime leaves the time out: the CLI prefixes its own.
func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// splitHandler sends each record to progress or debug by level.
type splitHandler struct{ progress, debug slog.Handler }

func (h splitHandler) pick(l slog.Level) slog.Handler {
	if l >= slog.LevelInfo && l < slog.LevelError {
		return h.progress
	}
	return h.debug
}

func (h splitHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.pick(l).Enabled(ctx, l)
}

func (h splitHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.pick(r.Level).Handle(ctx, r)
}

func (h splitHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return splitHandler{h.progress.WithAttrs(attrs), h.debug.WithAttrs(attrs)}
}

func (h splitHandler) WithGroup(name string) slog.Handler {
	return splitHandler{h.progress.WithGroup(name), h.debug.WithGroup(name)}
}
