package aliyunecs

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/libmachine/poll"
)

func TestBackoffIsBoundedAndJittered(t *testing.T) {
	base, maxd := retryBaseDelay, retryMaxDelay
	t.Cleanup(func() { retryBaseDelay, retryMaxDelay = base, maxd })
	retryBaseDelay, retryMaxDelay = 100*time.Millisecond, time.Second
	for attempt, ceiling := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 5: time.Second, 30: time.Second} {
		seen := map[time.Duration]bool{}
		for range 50 {
			d := backoff(attempt)
			require.GreaterOrEqual(t, d, ceiling/2, "attempt %d", attempt)
			require.LessOrEqual(t, d, ceiling, "attempt %d", attempt)
			seen[d] = true
		}
		assert.Greater(t, len(seen), 1, "attempt %d: the delay is jittered", attempt)
	}
}

func TestRetryableErrors(t *testing.T) {
	for _, tc := range []struct {
		err  *apiError
		want bool
	}{
		{&apiError{Code: "Throttling.User", Status: 400}, true},
		{&apiError{Code: "Throttling", Status: 400}, true},
		{&apiError{Code: "ServiceUnavailable", Status: 503}, true},
		{&apiError{Code: "InternalError", Status: 500}, true},
		{&apiError{Code: "", Status: 502}, true},
		{&apiError{Err: errors.New("read: connection reset by peer")}, true},
		{&apiError{Err: syscall.ECONNREFUSED}, false},
		{&apiError{Err: context.Canceled}, false},
		{&apiError{Code: "InvalidParameter", Status: 400}, false},
		{&apiError{Code: "Forbidden.RAM", Status: 403}, false},
		{&apiError{Code: "IncorrectInstanceStatus", Status: 403}, false},
	} {
		assert.Equal(t, tc.want, tc.err.retryable(), "%+v", tc.err)
	}
}

// A refused call is not retried; a cancelled context stops the retries.
func TestCallRetriesOnlyWhatCanSucceed(t *testing.T) {
	s := startSim(t, fastFaults())
	d := newDriver(t, s, "calls", nil)
	a, err := d.api()
	require.NoError(t, err)
	var n atomic.Int64
	base := a.binder.base
	a.binder.base = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		n.Add(1)
		return base.RoundTrip(r)
	})

	req := ecs.CreateStartInstanceRequest()
	req.InstanceId = "i-missing"
	err = a.call(t.Context(), &a.ecs.Client, req, ecs.CreateStartInstanceResponse())
	require.Error(t, err)
	assert.Equal(t, "InvalidInstanceId.NotFound", errorCode(err))
	assert.True(t, isNotFound(err))
	assert.EqualValues(t, 1, n.Load(), "a NotFound answer is final")

	f := *fastFaults()
	f.ThrottleRate, f.ThrottleBurst = 0.001, 1
	s.setFaults(f)
	n.Store(0)
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
	defer cancel()
	require.NoError(t, a.call(ctx, &a.ecs.Client, ecs.CreateDescribeRegionsRequest(), ecs.CreateDescribeRegionsResponse()),
		"the throttle's burst lets one call through")
	err = a.call(ctx, &a.ecs.Client, ecs.CreateDescribeRegionsRequest(), ecs.CreateDescribeRegionsResponse())
	assert.Equal(t, "Throttling.User", errorCode(err))
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "the deadline ends the retries: %v", err)
	assert.Less(t, n.Load(), int64(retryMaxAttempts*3), "retries are bounded")
}

func TestScrubHidesSecretsInAnyForm(t *testing.T) {
	msg := scrub("password a+b/c=d and a%2Bb%2Fc%3Dd", []string{"a+b/c=d"})
	assert.Equal(t, "password **** and ****", msg)
	e := &apiError{Action: "RunInstances", Err: errors.New(`Post "http://127.0.0.1:1/?Password=x&Signature=y": EOF`)}
	assert.Equal(t, `RunInstances failed: Post "http://127.0.0.1:1": EOF`, e.Error())
}

func TestWaitForReportsWhereItGotStuck(t *testing.T) {
	err := (&api{}).waitFor(t.Context(), "instance i-1 to be Running", 60*time.Millisecond, func(context.Context) (bool, string, error) {
		return false, "status Starting", nil
	})
	require.ErrorIs(t, err, poll.ErrTimedOut)
	assert.Equal(t, "waiting for instance i-1 to be Running: timed out after 60ms (last: status Starting)", err.Error())

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err = (&api{}).waitFor(ctx, "x", time.Minute, func(context.Context) (bool, string, error) { return false, "", nil })
	assert.ErrorIs(t, err, context.Canceled)

	boom := errors.New("boom")
	err = (&api{}).waitFor(t.Context(), "x", time.Minute, func(context.Context) (bool, string, error) { return false, "", boom })
	assert.ErrorIs(t, err, boom, "a failed check ends the wait at once")
}
