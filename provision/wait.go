package provision

import (
	"context"
	"fmt"
	"time"
)

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// errNotYet tells poll to try again.
type errNotYet struct{ err error }

func (e errNotYet) Error() string { return e.err.Error() }

// poll calls attempt until it returns nil, a non-retryable error, or the
// deadline passes. Retryable failures are returned as errNotYet; the waits
// between attempts double from t.PollInitial up to t.PollMax. The error on
// timeout names what was awaited and quotes the last failure.
func (s *session) poll(ctx context.Context, what string, limit time.Duration, attempt func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	wait := s.t.PollInitial
	for {
		err := attempt(ctx)
		if err == nil {
			return nil
		}
		ny, retry := err.(errNotYet)
		if !retry {
			return err
		}
		if ctx.Err() != nil || s.sleep(ctx, wait) != nil {
			if ctx.Err() == context.DeadlineExceeded || ctx.Err() == nil {
				return fmt.Errorf("timed out after %s waiting for %s%s: %w", limit, what, s.r.on(), ny.err)
			}
			return fmt.Errorf("waiting for %s%s: %w", what, s.r.on(), ctx.Err())
		}
		wait *= 2
		if wait > s.t.PollMax {
			wait = s.t.PollMax
		}
	}
}
