package provision

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fleetdock/machine/libmachine/poll"
)

// waitOptions shape every wait of a run: checks start after
// Timeouts.PollInitial and back off, doubling, to Timeouts.PollMax.
func (s *session) waitOptions(what string, timeout time.Duration) poll.Options {
	return poll.Options{What: what, Timeout: timeout, Initial: s.t.PollInitial, Max: s.t.PollMax, Factor: 2, Jitter: 0.2}
}

// waitPackageLock calls try, which runs a package-manager script, until it
// no longer finds the lock held by another process; an error from try ends
// the wait at once. The deadline (Timeouts.PackageLock) counts only time
// spent finding the lock held, so it starts after the first busy answer,
// and try runs on the caller's context: the wait's deadline must not cut a
// package manager run short.
func (s *session) waitPackageLock(ctx context.Context, try func() (busy bool, err error)) error {
	what := fmt.Sprintf("the package manager's lock on machine %q", s.o.MachineName)
	err := poll.Until(ctx, s.waitOptions(what, s.t.PackageLock), func(context.Context) (bool, error) {
		busy, err := try()
		switch {
		case err != nil:
			return false, poll.Permanent(err)
		case busy:
			return false, poll.NotYet("another process holds the %s lock", s.p.PackageManager())
		}
		return true, nil
	})
	if errors.Is(err, poll.ErrTimedOut) {
		return fmt.Errorf("%w; wait for it (unattended upgrades on first boot can take a while) and provision again", err)
	}
	return err
}
