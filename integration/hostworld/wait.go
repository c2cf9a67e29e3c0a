package hostworld

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// errPermanent marks a condition that no amount of waiting will fix.
var errPermanent = errors.New("permanent failure")

// backoff is the pause schedule of a wait: it starts short so a fast
// condition is seen quickly, and grows so a slow one is not hammered.
type backoff struct {
	next, max time.Duration
}

func newBackoff() *backoff { return &backoff{next: 50 * time.Millisecond, max: 2 * time.Second} }

func (b *backoff) pause() time.Duration {
	d := b.next
	b.next = min(b.next*3/2, b.max)
	return d
}

// waitFor polls check until it reports done, returns an error wrapping
// errPermanent, or the deadline passes. what names the condition in the
// error, which also carries the last reason the check gave.
func waitFor(ctx context.Context, what string, timeout time.Duration, check func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	b := newBackoff()
	var last error
	start := time.Now()
	for {
		done, err := check(ctx)
		if done {
			slog.DebugContext(ctx, "hostworld: waited", "for", what, "took", time.Since(start).Round(time.Millisecond))
			return nil
		}
		if errors.Is(err, errPermanent) {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if err != nil {
			last = err
		}
		t := time.NewTimer(b.pause())
		select {
		case <-ctx.Done():
			t.Stop()
			if last == nil {
				last = ctx.Err()
			}
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("stopped waiting for %s: %w (last: %w)", what, ctx.Err(), last)
			}
			return fmt.Errorf("gave up after %s waiting for %s: %w", timeout, what, last)
		case <-t.C:
		}
	}
}
