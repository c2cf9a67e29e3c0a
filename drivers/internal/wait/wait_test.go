package wait

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/fleetdock/machine/libmachine/poll"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestForSaysWhatItLastSawWhenTimeRunsOut(t *testing.T) {
	err := For(context.Background(), quiet, "instance i-1 to be Running", 60*time.Millisecond, 5*time.Millisecond, 10*time.Millisecond,
		func(context.Context) (bool, string, error) { return false, "status Starting", nil })
	assert.ErrorIs(t, err, poll.ErrTimedOut)
	assert.Contains(t, err.Error(), "waiting for instance i-1 to be Running")
	assert.Contains(t, err.Error(), "(last: status Starting)")
}

func TestForEndsAtOnceOnACheckError(t *testing.T) {
	denied, calls := errors.New("denied"), 0
	err := For(context.Background(), quiet, "instance i-1 to be Running", time.Minute, time.Millisecond, time.Millisecond,
		func(context.Context) (bool, string, error) { calls++; return false, "", denied })
	assert.ErrorIs(t, err, denied)
	assert.EqualError(t, err, "waiting for instance i-1 to be Running: denied")
	assert.Equal(t, 1, calls)
}

func TestForReturnsOnceDone(t *testing.T) {
	calls := 0
	err := For(context.Background(), quiet, "it", time.Minute, time.Millisecond, time.Millisecond,
		func(context.Context) (bool, string, error) { calls++; return calls == 3, "", nil })
	assert.NoError(t, err)
	assert.Equal(t, 3, calls)
}
