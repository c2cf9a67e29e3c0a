package plugin

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The stock CLI prints a plugin's stdout as progress and hides its stderr
// unless --debug: Info and Warn must go to stdout, Debug and Error to stderr.
func TestLineHandlerSplitsLevels(t *testing.T) {
	var out, debug bytes.Buffer
	log := slog.New(NewLineHandler(&out, &debug)).With("machine", "m1")
	log.Info("instance created", "instance", "i-1")
	log.Warn("flag ignored")
	log.Debug("retrying", "attempt", 2)
	log.Error("boom")
	log.WithGroup("g").Info("grouped", "k", "v")

	assert.Equal(t, "instance created machine=m1 instance=i-1\nWarning: flag ignored machine=m1\ngrouped machine=m1 g.k=v\n", out.String())
	assert.Equal(t, "retrying machine=m1 attempt=2\nboom machine=m1\n", debug.String())
}
