package ssh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/fleetdock/machine/libmachine/poll"
)

// waitPolicy shapes WaitForSSH's retries. authAttempts allows for
// cloud-init still writing authorized_keys when sshd already answers.
var waitPolicy = struct {
	initial, max time.Duration
	authAttempts int
}{initial: 250 * time.Millisecond, max: 5 * time.Second, authAttempts: 4}

// WaitForSSH dials until a connection logs in and `exit 0` succeeds, or
// timeout or ctx ends. Between attempts it backs off exponentially (capped,
// jittered). A changed host key or a configuration error ends the wait at
// once; refused logins end it after a few attempts. Otherwise the error
// quotes the last real dial or login failure. The returned Client has run
// one command (the probe).
func WaitForSSH(ctx context.Context, cfg Config, timeout time.Duration) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, &configError{err}
	}
	addr := cfg.Addr()
	start := time.Now()
	var c *Client
	attempts, authFailures := 0, 0
	o := poll.Options{What: "SSH on " + addr, Timeout: timeout, Initial: waitPolicy.initial, Max: waitPolicy.max, Factor: 2, Jitter: 0.4}
	err := poll.Until(ctx, o, func(ctx context.Context) (bool, error) {
		attempts++
		var err error
		c, err = probe(ctx, cfg)
		var mismatch *HostKeyMismatchError
		var cfgErr *configError
		var authErr *AuthError
		switch {
		case err == nil:
			return true, nil
		case errors.As(err, &mismatch), errors.As(err, &cfgErr):
			return false, poll.Permanent(err)
		case errors.As(err, &authErr):
			authFailures++
			if authFailures >= waitPolicy.authAttempts {
				return false, poll.Permanent(fmt.Errorf("SSH server on %s refused the login %d times in a row over %s: %w",
					addr, authFailures, roundWait(time.Since(start)), err))
			}
		default:
			authFailures = 0
		}
		slog.Debug("waiting for SSH", "addr", addr, "attempt", attempts, "err", err)
		return false, err
	})
	if err != nil {
		return nil, err
	}
	if attempts > 1 {
		slog.Debug("SSH is available", "addr", addr, "attempts", attempts, "waited", time.Since(start).Round(time.Millisecond))
	}
	return c, nil
}

// probe is one WaitForSSH attempt: a connection that can run a command.
func probe(ctx context.Context, cfg Config) (*Client, error) {
	c, err := Dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	res, err := c.Run(ctx, "exit 0")
	if err == nil && res.ExitStatus != 0 {
		err = fmt.Errorf("the test command `exit 0` on %s returned status %d: %s", c.addr, res.ExitStatus, res.Stderr)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func roundWait(d time.Duration) time.Duration {
	if d > 10*time.Second {
		return d.Round(time.Second)
	}
	return d.Round(10 * time.Millisecond)
}
