package libmachine

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/machine/libmachine/drivers"
	"github.com/docker/machine/libmachine/state"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/libmachine/capability"
	"github.com/fleetdock/machine/libmachine/plugin"
)

// slowDriver's create runs until its context ends, as a cloud create does
// while it waits; its remove waits for release or its context.
type slowDriver struct {
	*fakeDriver
	started chan struct{} // closed when Create begins
	release chan struct{} // closed to let Remove finish
}

func (d *slowDriver) DriverName() string { return "slow" }

func (d *slowDriver) PreCreateCheckContext(context.Context) error { return d.PreCreateCheck() }

func (d *slowDriver) CreateContext(ctx context.Context) error {
	d.record("Create")
	close(d.started)
	<-ctx.Done()
	return ctx.Err()
}

func (d *slowDriver) RemoveContext(ctx context.Context) error {
	d.record("Remove")
	select {
	case <-d.release:
		return nil
	case <-ctx.Done():
		return errors.New("instance i-1 is left: " + ctx.Err().Error())
	}
}

func (d *slowDriver) GetStateContext(context.Context) (state.State, error) { return d.GetState() }
func (d *slowDriver) StartContext(context.Context) error                   { return d.Start() }
func (d *slowDriver) StopContext(context.Context) error                    { return d.Stop() }
func (d *slowDriver) RestartContext(context.Context) error                 { return d.Restart() }
func (d *slowDriver) KillContext(context.Context) error                    { return d.Kill() }

var _ capability.Cancellable = (*slowDriver)(nil)

func newSlowWorld(t *testing.T) (*world, *slowDriver) {
	w := newWorld(t, nil)
	sd := &slowDriver{fakeDriver: w.d, started: make(chan struct{}), release: make(chan struct{})}
	plugin.RegisterBuiltin("slow", func() drivers.Driver { return sd })
	return w, sd
}

// The first Ctrl-C ends the create's context: the driver's create stops,
// what it made is removed on the cleanup context, and the store is clean.
func TestInterruptedCreateRollsBack(t *testing.T) {
	w, sd := newSlowWorld(t)
	close(sd.release)
	ctx, cancel := context.WithCancelCause(t.Context())
	go func() { <-sd.started; cancel(errors.New("received interrupt")) }()

	start := time.Now()
	err := w.c.CreateMachine(capability.WithCleanup(ctx, t.Context()), nil, NewCreateRequest("m1", "slow"))
	var ie *InterruptedError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, "the driver's create", ie.Step)
	assert.ErrorContains(t, err, `creating "m1" was interrupted during the driver's create`)
	assert.Less(t, time.Since(start), 10*time.Second, "stops promptly")
	assert.True(t, sd.called("Remove"), "what was made is removed")
	assertGone(t, w.c, "m1")
}

// A second Ctrl-C ends the cleanup too: the entry stays, and the error
// says what remains and what finishes the job.
func TestSecondInterruptStopsTheCleanup(t *testing.T) {
	w, sd := newSlowWorld(t)
	ctx, cancel := context.WithCancel(t.Context())
	cleanup, cancelCleanup := context.WithCancel(t.Context())
	go func() { <-sd.started; cancel(); time.Sleep(50 * time.Millisecond); cancelCleanup() }()

	err := w.c.CreateMachine(capability.WithCleanup(ctx, cleanup), nil, NewCreateRequest("m1", "slow"))
	var le *LeftoverError
	require.ErrorAs(t, err, &le)
	assert.ErrorContains(t, le.CleanupErr, "the cleanup was interrupted")
	assert.ErrorContains(t, err, "instance i-1 is left")
	assert.ErrorContains(t, err, "docker-machine rm m1")
	exists, err := w.c.Store.Exists("m1")
	require.NoError(t, err)
	assert.True(t, exists, "the entry stays for rm")

	close(sd.release)
	_, err = w.c.Remove(t.Context(), "m1", false)
	require.NoError(t, err, "rm finishes the job")
	assertGone(t, w.c, "m1")
}

// inventoryDriver also lists the resources its machine owns.
type inventoryDriver struct{ *fakeDriver }

func (inventoryDriver) DriverName() string { return "inventory" }

func (inventoryDriver) Resources() []capability.Resource {
	return []capability.Resource{{Kind: "instance", ID: "i-1", Region: "r-1"}, {Kind: "key pair", ID: "kp-1", Region: "r-1"}}
}

func TestRemoveForceNamesWhatMayRemain(t *testing.T) {
	w := newWorld(t, nil)
	plugin.RegisterBuiltin("inventory", func() drivers.Driver { return &inventoryDriver{w.d} })
	require.NoError(t, w.c.CreateMachine(t.Context(), nil, NewCreateRequest("m1", "inventory")))
	w.d.failRemove = errors.New("no credentials found")

	_, err := w.c.Remove(t.Context(), "m1", false)
	require.Error(t, err)
	assert.ErrorContains(t, err, "no credentials found")
	assert.ErrorContains(t, err, "The machine stays listed")
	exists, _ := w.c.Store.Exists("m1")
	assert.True(t, exists, "without -f a failed removal keeps the entry")

	warning, err := w.c.Remove(t.Context(), "m1", true)
	require.NoError(t, err)
	var re *RemainingError
	require.ErrorAs(t, warning, &re)
	assert.Equal(t, "the entry of \"m1\" was removed, but its driver could not remove what it made: no credentials found\n"+
		"These may still exist; delete them in the cloud's console or API:\n  instance i-1 in r-1\n  key pair kp-1 in r-1", warning.Error())
	assertGone(t, w.c, "m1")
}

// forwardedDriver's Docker URL is a port forward; Docker listens on 2376
// inside the host.
type forwardedDriver struct{ *fakeDriver }

func (forwardedDriver) DriverName() string { return "forwarded" }
func (forwardedDriver) EnginePort() int    { return 2376 }

func TestProvisionListensOnTheEnginePortBehindAForward(t *testing.T) {
	w := newWorld(t, nil)
	require.NoError(t, w.c.CreateMachine(t.Context(), nil, NewCreateRequest("plain", "fake")))
	_, urlPort, _ := strings.Cut(strings.TrimPrefix(w.d.URL, "tcp://127.0.0.1"), ":")
	assert.Equal(t, urlPort, strconv.Itoa(w.m.dockerPort), "without a forward Docker listens on the URL's port")

	plugin.RegisterBuiltin("forwarded", func() drivers.Driver { return &forwardedDriver{w.d} })
	require.NoError(t, w.c.CreateMachine(t.Context(), nil, NewCreateRequest("m1", "forwarded")))
	assert.Equal(t, 2376, w.m.dockerPort, "behind a forward Docker listens on the host's own port")
}
