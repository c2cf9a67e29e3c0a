package instance

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/docker/machine/libmachine/state"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIPAsksTheCloudOnlyWhenNoAddressIsStored(t *testing.T) {
	stored, asked := "", 0
	a := Address{Machine: "m1", Instance: "i-1", Kind: "public", Stored: func() string { return stored },
		Refresh: func(ctx context.Context) (string, error) {
			asked++
			_, has := ctx.Deadline()
			assert.True(t, has, "the refresh is bounded")
			return "status Starting", nil
		}}
	_, err := a.IP(time.Minute)
	assert.EqualError(t, err, `instance i-1 of machine "m1" has no public IP address yet (status Starting)`)
	assert.Equal(t, 1, asked)

	a.Refresh = func(context.Context) (string, error) { asked++; stored = "203.0.113.5"; return "status Running", nil }
	ip, err := a.IP(time.Minute)
	require.NoError(t, err)
	assert.Equal(t, "203.0.113.5", ip)
	ip, err = a.IP(time.Minute)
	require.NoError(t, err)
	assert.Equal(t, "203.0.113.5", ip)
	assert.Equal(t, 2, asked, "a stored address needs no call")

	_, err = Address{Machine: "m1", Stored: func() string { return "" }}.IP(time.Minute)
	assert.EqualError(t, err, `machine "m1" has no instance yet, so no IP address`)
}

func TestFoundWordsFailedAndEmptyLookUps(t *testing.T) {
	n := 7
	got, err := Found("m1", "i-1", &n, nil, false)
	require.NoError(t, err)
	assert.Equal(t, &n, got)
	_, err = Found[int]("m1", "i-1", nil, errors.New("throttled"), true)
	assert.EqualError(t, err, `looking up instance i-1 of machine "m1": throttled`)
	_, err = Found[int]("m1", "i-1", nil, nil, true)
	assert.ErrorIs(t, err, ErrGone)
	assert.EqualError(t, err, `instance i-1 of machine "m1": instance no longer exists; run 'docker-machine rm m1' to forget the machine`)
}

func TestStateNeedsAnInstance(t *testing.T) {
	st, err := State(context.Background(), "m1", "", time.Minute, nil)
	assert.Equal(t, state.None, st)
	assert.EqualError(t, err, `machine "m1" has no instance (was it created?)`)
	st, err = State(context.Background(), "m1", "i-1", time.Minute, func(context.Context) (state.State, error) { return state.Error, errors.New("denied") })
	assert.Equal(t, state.Error, st)
	assert.EqualError(t, err, "denied")
	st, err = State(context.Background(), "m1", "i-1", time.Minute, func(context.Context) (state.State, error) { return state.Running, nil })
	require.NoError(t, err)
	assert.Equal(t, state.Running, st)
}

func TestURLIsEmptyWithoutAnAddress(t *testing.T) {
	u, err := URL("2001:db8::1", nil, 2376)
	require.NoError(t, err)
	assert.Equal(t, "tcp://[2001:db8::1]:2376", u)
	u, err = URL("", nil, 2376)
	require.NoError(t, err)
	assert.Empty(t, u)
	_, err = URL("", errors.New("no instance"), 2376)
	assert.EqualError(t, err, "no instance")
}
