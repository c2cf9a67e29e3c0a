package delay

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestBackoffDoublesWithinJitterUpToTheMaximum(t *testing.T) {
	base, max := 100*time.Millisecond, time.Second
	for attempt, top := range map[int]time.Duration{1: base, 2: 2 * base, 3: 4 * base, 4: 8 * base, 5: max, 12: max} {
		for range 50 {
			d := Backoff(attempt, base, max)
			assert.GreaterOrEqual(t, d, top/2, "attempt %d", attempt)
			assert.LessOrEqual(t, d, top, "attempt %d", attempt)
		}
	}
	assert.Equal(t, time.Duration(1), Backoff(1, 1, 1), "a delay too short to halve is used as it is")
}

func TestSleepEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, Sleep(ctx, time.Hour), context.Canceled)
	assert.NoError(t, Sleep(context.Background(), time.Millisecond))
}
