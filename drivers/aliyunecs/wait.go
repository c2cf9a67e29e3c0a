package aliyunecs

import (
	"context"
	"fmt"
	"time"

	"github.com/fleetdock/machine/libmachine/poll"
)

// Polling tuning; variables so tests can shrink the waits.
var (
	pollInitial = 500 * time.Millisecond
	pollMax     = 5 * time.Second
)

// Deadlines of the waits. Instances usually boot in well under a minute;
// the margins cover a slow region without leaving a user staring at a hung
// command.
var (
	createTimeout   = 15 * time.Minute
	removeTimeout   = 10 * time.Minute
	instanceTimeout = 5 * time.Minute
	resourceTimeout = 2 * time.Minute
	actionTimeout   = 2 * time.Minute
)

// waitFor polls check with growing, jittered intervals until it reports
// done, fails, or timeout passes. check returns what it saw, which goes into
// the timeout error so the user learns where it got stuck. A check error
// ends the wait at once: the API calls have retried throttling and server
// errors already, so what is left will not clear by waiting.
func (a *api) waitFor(ctx context.Context, what string, timeout time.Duration, check func(context.Context) (done bool, seen string, err error)) error {
	start := time.Now()
	a.logger().Debug("waiting", "for", what, "timeout", timeout)
	// Jitter keeps parallel creates from polling in lockstep.
	o := poll.Options{What: what, Timeout: timeout, Initial: pollInitial, Max: pollMax, Factor: 1.5, Jitter: 0.5}
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
		a.logger().Debug("wait over", "for", what, "after", time.Since(start).Round(time.Millisecond))
	}
	return err
}
