package swarm

import (
	"context"
	"fmt"
	"time"
)

// WaitTimeout bounds each wait for the swarm to settle after a change: a
// joined node to show as ready, a promoted one as a reachable manager.
var WaitTimeout = 2 * time.Minute

// Poll pauses start short, because a swarm change usually settles within a
// second, and grow to a ceiling so slow networks are not hammered.
const (
	firstPause = 100 * time.Millisecond
	maxPause   = 2 * time.Second
)

// checkFunc reports whether the awaited condition holds. seen describes
// the state observed, for the timeout message; a non-nil err ends the wait
// at once (the condition can no longer come true).
type checkFunc func(ctx context.Context) (done bool, seen string, err error)

// waitUntil polls check with backoff until it is done, fails, or timeout
// passes; the error says what it waited for, how long, and what it saw last.
func waitUntil(ctx context.Context, what string, timeout time.Duration, check checkFunc) error {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pause := firstPause
	seen := "nothing yet"
	for {
		done, s, err := check(wctx)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if s != "" {
			seen = s
		}
		t := time.NewTimer(pause)
		select {
		case <-wctx.Done():
			t.Stop()
			if ctx.Err() != nil {
				return fmt.Errorf("stopped waiting for %s: %w", what, ctx.Err())
			}
			return fmt.Errorf("timed out after %s waiting for %s (last seen: %s)", timeout, what, seen)
		case <-t.C:
		}
		pause = min(pause*2, maxPause)
	}
}
