package poll

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fast keeps the pauses of a test short; no test depends on their length.
func fast(what string, timeout time.Duration) Options {
	return Options{What: what, Timeout: timeout, Initial: time.Millisecond, Max: time.Millisecond}
}

func TestUntilReturnsWhenTheCheckIsDone(t *testing.T) {
	calls := 0
	err := Until(t.Context(), fast("the third call", time.Minute), func(context.Context) (bool, error) {
		calls++
		if calls < 3 {
			return false, errors.New("not yet")
		}
		return true, nil
	})
	require.NoError(t, err)
	assert.Equal(t, 3, calls, "ordinary errors are retried")
}

func TestUntilTimesOutWithTheLastError(t *testing.T) {
	boom := errors.New("connection refused")
	calls := 0
	err := Until(t.Context(), fast(`machine "m1" to be Running`, 30*time.Millisecond), func(context.Context) (bool, error) {
		calls++
		if calls == 1 {
			return false, errors.New("first failure")
		}
		return false, fmt.Errorf("dial: %w", boom)
	})
	require.Error(t, err)
	assert.Equal(t, `waiting for machine "m1" to be Running: timed out after 30ms (last error: dial: connection refused)`, err.Error())
	assert.ErrorIs(t, err, ErrTimedOut)
	assert.ErrorIs(t, err, boom, "the last error is wrapped")
	assert.NotErrorIs(t, err, context.DeadlineExceeded, "the wait's own deadline is not the caller's")
	assert.Greater(t, calls, 1)
}

func TestUntilTimesOutWithTheLastCondition(t *testing.T) {
	states := []string{"Starting", "Stopped"}
	calls := 0
	err := Until(t.Context(), fast(`machine "m1" to be Running`, 20*time.Millisecond), func(context.Context) (bool, error) {
		st := states[min(calls, len(states)-1)]
		calls++
		return false, NotYet("%s", st)
	})
	require.Error(t, err)
	assert.Equal(t, `waiting for machine "m1" to be Running: timed out after 20ms (last: Stopped)`, err.Error())
	assert.ErrorIs(t, err, ErrTimedOut)

	err = Until(t.Context(), fast("x", 5*time.Millisecond), func(context.Context) (bool, error) { return false, nil })
	assert.Equal(t, "waiting for x: timed out after 5ms", err.Error(), "nothing seen, nothing quoted")
}

func TestUntilReturnsAPermanentErrorAtOnce(t *testing.T) {
	dead := errors.New("plugin exited")
	for name, mk := range map[string]func() error{
		"marked":  func() error { return Permanent(dead) },
		"wrapped": func() error { return fmt.Errorf("driver plugin aliyunecs: %w", Permanent(dead)) },
	} {
		t.Run(name, func(t *testing.T) {
			want := mk()
			calls := 0
			err := Until(t.Context(), fast("machine state", time.Hour), func(context.Context) (bool, error) {
				calls++
				return false, want
			})
			assert.Equal(t, 1, calls)
			assert.Same(t, want, err, "returned as it is")
			assert.ErrorIs(t, err, dead)
			assert.NotErrorIs(t, err, ErrTimedOut)
		})
	}
	assert.NoError(t, Permanent(nil))
	assert.Equal(t, "plugin exited", Permanent(dead).Error())
}

func TestUntilIgnoresDoneWithAnError(t *testing.T) {
	inUse := errors.New("in use by other machines")
	err := Until(t.Context(), fast("the group to be free", time.Hour), func(context.Context) (bool, error) {
		return true, Permanent(inUse)
	})
	assert.ErrorIs(t, err, inUse)
}

func TestUntilStopsPromptlyWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	refused := errors.New("connection refused")
	calls := make(chan struct{}, 10)
	errc := make(chan error, 1)
	go func() {
		// Pauses of an hour: only the cancel can end this wait.
		errc <- Until(ctx, Options{What: "SSH on 10.0.0.1:22", Timeout: 5 * time.Minute, Initial: time.Hour}, func(context.Context) (bool, error) {
			calls <- struct{}{}
			return false, refused
		})
	}()
	<-calls
	cancel()
	var err error
	select {
	case err = <-errc:
	case <-time.After(10 * time.Second):
		t.Fatal("Until did not return after its context was cancelled")
	}
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, err, refused)
	assert.NotErrorIs(t, err, ErrTimedOut)
	assert.NotContains(t, err.Error(), "timed out")
	assert.NotContains(t, err.Error(), "5m0s", "the timeout is not quoted for a wait that was cut short")
	assert.Contains(t, err.Error(), "waiting for SSH on 10.0.0.1:22: stopped after ")
	assert.Contains(t, err.Error(), "(last error: connection refused)")
	assert.Len(t, calls, 0, "no check after the cancel")
}

func TestUntilNamesTheCauseOfACancel(t *testing.T) {
	ctx, cancel := context.WithCancelCause(t.Context())
	interrupt := errors.New("interrupted by SIGINT")
	err := Until(ctx, fast("x", time.Hour), func(context.Context) (bool, error) {
		cancel(interrupt)
		return false, NotYet("Starting")
	})
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, err, interrupt)
	assert.Contains(t, err.Error(), ": context canceled: interrupted by SIGINT (last: Starting)")
}

func TestUntilTreatsTheCallersDeadlineAsAStop(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	err := Until(ctx, fast("x", time.Hour), func(context.Context) (bool, error) { return false, nil })
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, ErrTimedOut)
	assert.Contains(t, err.Error(), "waiting for x: stopped after ")
}

func TestUntilDoesNotCheckAfterTheContextEnded(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := 0
	err := Until(ctx, fast("x", time.Hour), func(context.Context) (bool, error) { calls++; return true, nil })
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 0, calls)
}

func TestUntilGivesTheCheckTheWaitsContext(t *testing.T) {
	err := Until(t.Context(), fast("x", time.Minute), func(ctx context.Context) (bool, error) {
		dl, ok := ctx.Deadline()
		require.True(t, ok, "the timeout bounds what the check does")
		assert.LessOrEqual(t, time.Until(dl), time.Minute)
		return true, nil
	})
	require.NoError(t, err)

	err = Until(t.Context(), fast("x", 0), func(ctx context.Context) (bool, error) {
		_, ok := ctx.Deadline()
		assert.False(t, ok, "no timeout: only the caller's context bounds the wait")
		return true, nil
	})
	require.NoError(t, err)
}

func TestUntilKeepsTheErrorBeforeAnAttemptCutShort(t *testing.T) {
	calls := 0
	err := Until(t.Context(), fast("sshd", 30*time.Millisecond), func(ctx context.Context) (bool, error) {
		calls++
		if calls == 1 {
			return false, errors.New("no SSH banner")
		}
		<-ctx.Done() // a dial that the end of the wait aborts
		return false, fmt.Errorf("dial: %w", ctx.Err())
	})
	require.Error(t, err)
	assert.Equal(t, 2, calls)
	assert.Contains(t, err.Error(), "(last error: no SSH banner)")
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
}

func TestUntilKeepsTheErrorBeforeAnAttemptThatRanIntoTheDeadline(t *testing.T) {
	calls := 0
	err := Until(t.Context(), fast("sshd", 30*time.Millisecond), func(ctx context.Context) (bool, error) {
		calls++
		if calls == 1 {
			return false, errors.New("connection refused")
		}
		// A dial bounded by the deadline fails on it, whether or not the
		// context's own timer has fired yet.
		dl, ok := ctx.Deadline()
		require.True(t, ok)
		time.Sleep(time.Until(dl))
		return false, errors.New("dial tcp: i/o timeout")
	})
	require.Error(t, err)
	assert.Equal(t, 2, calls)
	assert.Contains(t, err.Error(), "(last error: connection refused)")
}

func TestSchedule(t *testing.T) {
	pauses := func(o Options, n int) []time.Duration {
		o = o.withDefaults()
		s := schedule{o: o, next: o.Initial}
		var out []time.Duration
		for range n {
			out = append(out, s.pause())
		}
		return out
	}
	ms := time.Millisecond
	assert.Equal(t, []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1000 * ms, 1000 * ms},
		pauses(Options{Initial: 100 * ms, Max: time.Second}, 6), "doubling by default, up to Max")
	assert.Equal(t, []time.Duration{100 * ms, 150 * ms, 225 * ms, 300 * ms},
		pauses(Options{Initial: 100 * ms, Max: 300 * ms, Factor: 1.5}, 4))
	assert.Equal(t, []time.Duration{250 * ms, 500 * ms, 1000 * ms, 2000 * ms, 4000 * ms, 5000 * ms},
		pauses(Options{}, 6), "defaults")
	assert.Equal(t, []time.Duration{time.Second, time.Second},
		pauses(Options{Initial: time.Second, Max: ms}, 2), "Max never below Initial")

	half := func() float64 { return 0.5 }
	assert.Equal(t, []time.Duration{75 * ms, 150 * ms, 300 * ms},
		pauses(Options{Initial: 100 * ms, Max: time.Second, Jitter: 0.5, rand: half}, 3), "jitter shortens a pause by Jitter*rand")
	assert.Equal(t, []time.Duration{100 * ms, 200 * ms},
		pauses(Options{Initial: 100 * ms, Jitter: 0.5, rand: func() float64 { return 0 }}, 2))

	// With the real source, pauses stay within [d*(1-Jitter), d] and vary.
	seen := map[time.Duration]bool{}
	for _, d := range pauses(Options{Initial: time.Second, Max: time.Second, Jitter: 0.4}, 50) {
		require.GreaterOrEqual(t, d, 600*ms)
		require.LessOrEqual(t, d, time.Second)
		seen[d] = true
	}
	assert.Greater(t, len(seen), 1, "the pauses are jittered")
}
