// Package wait is how a cloud driver waits for a resource to reach a
// state: libmachine/poll with the pace and wording every driver shares.
package wait

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/fleetdock/machine/libmachine/poll"
)

// Factor and Jitter pace every driver's waits: each pause is half again the
// one before, and half of it is random, which keeps parallel creates from
// polling in lockstep.
const (
	Factor = 1.5
	Jitter = 0.5
)

// For polls check with growing, jittered intervals, from initial up to max,
// until it reports done, fails, or timeout passes. check returns what it
// saw, which goes into the timeout error so the user learns where it got
// stuck. A check error ends the wait at once: the API calls have retried
// throttling and server errors already, so what is left will not clear by
// waiting.
func For(ctx context.Context, log *slog.Logger, what string, timeout, initial, max time.Duration, check func(context.Context) (done bool, seen string, err error)) error {
	start := time.Now()
	log.Debug("waiting", "for", what, "timeout", timeout)
	o := poll.Options{What: what, Timeout: timeout, Initial: initial, Max: max, Factor: Factor, Jitter: Jitter}
	err := poll.Until(ctx, o, func(ctx context.Context) (bool, error) {
		done, seen, err := check(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			return false, poll.Permanent(fmt.Errorf("waiting for %s: %w", what, err))
		case err != nil:
			return false, err // cut short by the end of the wait
		case done:
			return true, nil
		case seen != "":
			return false, poll.NotYet("%s", seen)
		}
		return false, nil
	})
	if err == nil {
		log.Debug("wait over", "for", what, "after", time.Since(start).Round(time.Millisecond))
	}
	return err
}
