package linelog

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLinesNameTheMachineAndKeepDebugApart(t *testing.T) {
	var out, debug bytes.Buffer
	log := New(&out, &debug, false)
	log.Info("Creating instance", "machine", "m1", "region", "cn-beijing")
	log.With("machine", "m2").Warn("slow API", "err", errors.New("throttled"))
	log.Info("no machine here")
	log.Debug("hidden")
	assert.Equal(t, "(m1) Creating instance\nWARN: (m2) slow API\nno machine here\n", out.String(), "attributes other than the machine only in debug mode")
	assert.Empty(t, debug.String())

	out.Reset()
	log = New(&out, &debug, true)
	log.With("machine", "m1").Debug("waiting", "for", "instance")
	log.Info("done", "after", "3s")
	assert.Equal(t, "(m1) waiting for=instance\n", debug.String(), "debug lines go to their own writer")
	assert.Equal(t, "done after=3s\n", out.String())
}
