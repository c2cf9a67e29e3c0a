package hostworld

import (
	"context"
	"log/slog"
	"time"

	"github.com/fleetdock/machine/libmachine/poll"
)

// waitFor polls check until it reports done, returns a poll.Permanent
// error, or timeout passes. what names the condition in the error, which
// also carries the last reason the check gave. Pauses start short so a fast
// condition is seen quickly, and grow so a slow one is not hammered.
func waitFor(ctx context.Context, what string, timeout time.Duration, check func(context.Context) (bool, error)) error {
	start := time.Now()
	o := poll.Options{What: what, Timeout: timeout, Initial: 50 * time.Millisecond, Max: 2 * time.Second, Factor: 1.5, Jitter: 0.2}
	if err := poll.Until(ctx, o, check); err != nil {
		return err
	}
	slog.DebugContext(ctx, "hostworld: waited", "for", what, "took", time.Since(start).Round(time.Millisecond))
	return nil
}
