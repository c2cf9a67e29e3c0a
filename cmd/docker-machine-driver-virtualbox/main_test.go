package main

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Info and Warn reach the CLI's output, Debug and Error only its debug log.
func TestSplitHandlerByLevel(t *testing.T) {
	var out, debug bytes.Buffer
	opts := &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: dropTime}
	log := slog.New(splitHandler{slog.NewTextHandler(&out, opts), slog.NewTextHandler(&debug, opts)}).With("machine", "m1")
	log.Info("image ready")
	log.Warn("no checksum")
	log.Debug("VBoxManage", "args", "list vms")
	log.Error("boom")

	assert.Equal(t, "level=INFO msg=\"image ready\" machine=m1\nlevel=WARN msg=\"no checksum\" machine=m1\n", out.String())
	assert.Equal(t, "level=DEBUG msg=VBoxManage machine=m1 args=\"list vms\"\nlevel=ERROR msg=boom machine=m1\n", debug.String())
}
