package amazonec2

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/fleetdock/machine/drivers/internal/delay"
)

// Polling tuning; variables so tests can shrink the waits.
var (
	pollInitial = 1 * time.Second
	pollMax     = 10 * time.Second
)

// Deadlines. Instances usually run within a minute; the margins cover a
// slow region without leaving a user staring at a hung command.
var (
	createTimeout   = 20 * time.Minute
	removeTimeout   = 10 * time.Minute
	instanceTimeout = 10 * time.Minute
	resourceTimeout = 3 * time.Minute
	actionTimeout   = 3 * time.Minute
)

// errWaitTimeout marks a wait that ran out of time.
var errWaitTimeout = errors.New("timed out")

// waitFor polls check with growing, jittered intervals until it reports
// done, fails, or timeout passes. check returns what it saw, which goes into
// the timeout error so the user learns where it got stuck.
func waitFor(ctx context.Context, what string, timeout time.Duration, check func(context.Context) (done bool, seen string, err error)) error {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	interval := pollInitial
	logger().Debug("waiting", "for", what, "timeout", timeout)
	seen := ""
	for {
		done, s, err := check(ctx)
		if s != "" {
			seen = s
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if done {
			logger().Debug("wait over", "for", what, "after", time.Since(start).Round(time.Millisecond))
			return nil
		}
		// Jitter keeps parallel creates from polling in lockstep.
		d := interval/2 + time.Duration(rand.Int64N(int64(interval/2)+1))
		if err := delay.Sleep(ctx, d); err != nil {
			break
		}
		interval = min(interval*3/2, pollMax)
	}
	if err := parent.Err(); err != nil {
		return fmt.Errorf("waiting for %s: %w", what, err)
	}
	if seen != "" {
		seen = " (last seen: " + seen + ")"
	}
	return fmt.Errorf("%w after %s waiting for %s%s", errWaitTimeout, timeout, what, seen)
}
