package swarm

import (
	"context"
	"time"

	"github.com/fleetdock/machine/libmachine/poll"
)

// WaitTimeout bounds each wait for the swarm to settle after a change: a
// joined node to show as ready, a promoted one as a reachable manager.
var WaitTimeout = 2 * time.Minute

// waitUntil polls check with backoff until it is done, returns a permanent
// error (the condition can no longer come true), or timeout passes. Pauses
// start short, because a swarm change usually settles within a second, and
// grow to a ceiling so slow networks are not hammered.
func waitUntil(ctx context.Context, what string, timeout time.Duration, check func(ctx context.Context) (bool, error)) error {
	o := poll.Options{What: what, Timeout: timeout, Initial: 100 * time.Millisecond, Max: 2 * time.Second, Factor: 2, Jitter: 0.2}
	return poll.Until(ctx, o, check)
}
