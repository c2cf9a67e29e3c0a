// Package delay spaces out the retries of a cloud driver's API calls: a
// jittered exponential backoff, and a sleep that a context cuts short.
package delay

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is full-jitter exponential backoff for attempt (1 for the first
// retry): uniform in [d/2, d], with d doubling from base up to max.
func Backoff(attempt int, base, max time.Duration) time.Duration {
	d := base
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + time.Duration(rand.Int64N(int64(half)+1))
}

// Sleep waits for d, or returns ctx's error as soon as ctx ends.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
