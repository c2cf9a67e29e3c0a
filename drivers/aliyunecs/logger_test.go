package aliyunecs

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An injected logger receives the driver's lines and those of its API
// client and waits, each naming the machine where the driver does.
func TestInjectedLoggerGetsEveryLine(t *testing.T) {
	s := startSim(t, nil)
	d := newDriver(t, s, "logged", nil)
	var buf bytes.Buffer
	d.SetLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))

	a, err := d.api()
	require.NoError(t, err)
	require.NoError(t, a.waitFor(t.Context(), "nothing", time.Minute, func(context.Context) (bool, string, error) { return true, "", nil }))
	out := buf.String()
	assert.Contains(t, out, `msg="Alibaba Cloud clients ready" machine=logged`)
	assert.Contains(t, out, `msg=waiting for=nothing`)
	assert.Contains(t, out, `msg="wait over" for=nothing`)
}
