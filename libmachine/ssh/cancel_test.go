//go:build unix

package ssh

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGroupReporterRemovesOnlyItsLine(t *testing.T) {
	var out bytes.Buffer
	g := newGroupReporter(&out)
	stream := "warning: setlocale failed\n" + string(g.marker) + "4242\nreal error\npartial"
	// Byte-sized writes: the marker may arrive split anywhere.
	for i := 0; i < len(stream); i++ {
		n, err := g.Write([]byte{stream[i]})
		require.NoError(t, err)
		require.Equal(t, 1, n)
	}
	require.NoError(t, g.flush())
	assert.Equal(t, 4242, g.pid(0))
	assert.Equal(t, "warning: setlocale failed\nreal error\npartial", out.String())
}

func TestGroupReporterWithoutMarkerPassesEverything(t *testing.T) {
	var out bytes.Buffer
	g := newGroupReporter(&out)
	_, err := g.Write([]byte("no marker here\nand no newline"))
	require.NoError(t, err)
	require.NoError(t, g.flush())
	assert.Equal(t, 0, g.pid(0))
	assert.Equal(t, "no marker here\nand no newline", out.String())
}

func TestCancelEndsTheWholeProcessGroup(t *testing.T) {
	// The shell and a background child both go: the child is not left
	// behind when only the shell could be signalled.
	s, cfg := keyedServer(t)
	c := dial(t, cfg)
	pidFile := t.TempDir() + "/child.pid"

	ctx, cancel := context.WithCancel(context.Background())
	result := make(chan error, 1)
	go func() {
		_, err := c.Run(ctx, "sleep 600 & echo $! > "+shellQuote(pidFile)+"; wait")
		result <- err
	}()
	waitFor(t, s.started, "the command starting")
	childPID := pollUntil(t, "the child pid", func() (int, bool) {
		data, err := os.ReadFile(pidFile)
		if err != nil || !bytes.HasSuffix(data, []byte("\n")) {
			return 0, false
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		return pid, err == nil
	})
	cancel()
	require.ErrorIs(t, waitFor(t, result, "Run returning"), context.Canceled)

	// endGroup ran as a second command (it may still be arriving when Run
	// returns) and the child is gone.
	execs := pollUntil(t, "the kill command reaching the server", func() ([]string, bool) {
		e := s.execs()
		return e, len(e) >= 2
	})
	assert.Len(t, execs, 2)
	assert.Contains(t, execs[1], "kill -s TERM -- -")
	pollUntil(t, "the background child ending", func() (struct{}, bool) {
		return struct{}{}, processGone(childPID)
	})
}
