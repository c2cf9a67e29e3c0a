package ssh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"
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
// once; refused logins end it after a few attempts. The returned Client has
// run one command (the probe).
func WaitForSSH(ctx context.Context, cfg Config, timeout time.Duration) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, &configError{err}
	}
	addr := cfg.Addr()
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	delay := waitPolicy.initial
	var lastErr error
	attempts, authFailures := 0, 0
	for {
		attempts++
		c, err := probe(wctx, cfg)
		if err == nil {
			if attempts > 1 {
				slog.Debug("SSH is available", "addr", addr, "attempts", attempts, "waited", time.Since(start).Round(time.Millisecond))
			}
			return c, nil
		}
		// An attempt cut short by the end of the wait says nothing about
		// the server; keep the error before it.
		if wctx.Err() == nil || lastErr == nil {
			lastErr = err
		}

		var mismatch *HostKeyMismatchError
		var cfgErr *configError
		var authErr *AuthError
		switch {
		case errors.As(err, &mismatch), errors.As(err, &cfgErr):
			return nil, err
		case errors.As(err, &authErr):
			authFailures++
			if authFailures >= waitPolicy.authAttempts {
				return nil, fmt.Errorf("SSH server on %s refused the login %d times in a row over %s: %w",
					addr, authFailures, roundWait(time.Since(start)), err)
			}
		default:
			authFailures = 0
		}
		if wctx.Err() != nil {
			break
		}
		slog.Debug("waiting for SSH", "addr", addr, "attempt", attempts, "retry_in", delay, "err", err)

		t := time.NewTimer(jitter(delay))
		select {
		case <-wctx.Done():
			t.Stop()
		case <-t.C:
		}
		if wctx.Err() != nil {
			break
		}
		delay = min(delay*2, waitPolicy.max)
	}

	waited := roundWait(time.Since(start))
	if ctx.Err() != nil {
		return nil, fmt.Errorf("waiting for SSH on %s stopped after %s (%s): %w; last error: %w",
			addr, waited, plural(attempts, "attempt"), context.Cause(ctx), lastErr)
	}
	return nil, fmt.Errorf("SSH on %s was not available after waiting %s (%s); last error: %w",
		addr, waited, plural(attempts, "attempt"), lastErr)
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

// jitter spreads retries of many machines by ±20%.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*0.4-0.2)*float64(d))
}

func roundWait(d time.Duration) time.Duration {
	if d > 10*time.Second {
		return d.Round(time.Second)
	}
	return d.Round(10 * time.Millisecond)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
