package rollback

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/libmachine/capability"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestStepTimesEveryStepAndNamesTheOneThatFailed(t *testing.T) {
	var phases []Phase
	require.NoError(t, Step(quiet, &phases, "first", func() error { return nil }))
	boom := errors.New("boom")
	err := Step(quiet, &phases, "second", func() error { return boom })
	assert.EqualError(t, err, "second: boom")
	assert.ErrorIs(t, err, boom)
	require.Len(t, phases, 2)
	assert.Equal(t, "first", phases[0].Name)
	assert.Equal(t, "second", phases[1].Name)
}

func TestUndoTearsDownOnTheCleanupContextAndSaysWhatIsLeft(t *testing.T) {
	create := errors.New("no capacity")
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	var sawLive bool
	err := Undo(ended, time.Minute, quiet, "m1", create, func(ctx context.Context) error {
		sawLive = ctx.Err() == nil
		return nil
	})
	assert.True(t, sawLive, "cleanup runs even when the create's context has ended")

	// A second Ctrl-C ends the cleanup context the command attached.
	cleanup, stopCleanup := context.WithCancel(context.Background())
	stopCleanup()
	var sawEnded bool
	_ = Undo(capability.WithCleanup(ended, cleanup), time.Minute, quiet, "m1", create, func(ctx context.Context) error {
		sawEnded = ctx.Err() != nil
		return ctx.Err()
	})
	assert.True(t, sawEnded, "the cleanup runs on the command's cleanup context, which a second Ctrl-C ends")
	assert.EqualError(t, err, `creating machine "m1" failed (everything it had made was removed again): no capacity`)
	assert.ErrorIs(t, err, create)

	left := &Leftovers{Machine: "m1"}
	left.Fail("instance i-1", errors.New("throttled"))
	err = Undo(context.Background(), time.Minute, quiet, "m1", create, func(context.Context) error { return left.Err() })
	assert.EqualError(t, err, `creating machine "m1" failed: no capacity; cleaning up after it failed too: these resources are left: instance i-1 (instance i-1: throttled); run 'docker-machine rm m1' to finish removing them`)
}

func TestLeftoversIsAnErrorOnlyWhenSomethingIsLeft(t *testing.T) {
	e := &Leftovers{Machine: "m1"}
	assert.NoError(t, e.Err())
	gone := errors.New("in use")
	e.Fail("key pair k", gone)
	e.Leave("security group sg-1")
	require.Error(t, e.Err())
	assert.EqualError(t, e.Err(), "these resources are left: key pair k, security group sg-1 (key pair k: in use); run 'docker-machine rm m1' to finish removing them")
	assert.ErrorIs(t, e.Err(), gone)
}

func TestRemoveBoundsTheTeardownAndWordsItsErrors(t *testing.T) {
	type client struct{ name string }
	connect := func(ctx context.Context) (*client, error) {
		_, has := ctx.Deadline()
		require.True(t, has, "connecting is bounded by the remove's timeout")
		return &client{"c1"}, nil
	}
	var got *client
	require.NoError(t, Remove(context.Background(), time.Minute, "m1", "EC2", connect, func(ctx context.Context, c *client) error {
		got = c
		return nil
	}))
	assert.Equal(t, "c1", got.name)

	noCreds := errors.New("no credentials")
	err := Remove(context.Background(), time.Minute, "m1", "EC2", func(context.Context) (*client, error) { return nil, noCreds },
		func(context.Context, *client) error { t.Fatal("teardown without a client"); return nil })
	assert.EqualError(t, err, `cannot remove machine "m1" from EC2: no credentials`)
	assert.ErrorIs(t, err, noCreds)

	left := &Leftovers{Machine: "m1"}
	left.Fail("instance i-1", errors.New("throttled"))
	err = Remove(context.Background(), time.Minute, "m1", "EC2", connect, func(context.Context, *client) error { return left.Err() })
	assert.EqualError(t, err, `removing machine "m1": these resources are left: instance i-1 (instance i-1: throttled); run 'docker-machine rm m1' to finish removing them`)
}
