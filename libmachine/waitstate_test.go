package libmachine

import (
	"errors"
	"testing"
	"time"

	"github.com/docker/machine/libmachine/drivers"
	"github.com/docker/machine/libmachine/state"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/libmachine/host"
	"github.com/fleetdock/machine/libmachine/poll"
)

// statesDriver answers GetState from a script, repeating its last answer.
type statesDriver struct {
	drivers.Driver `json:"-"`
	states         []state.State
	errs           []error
	calls          int
}

func (d *statesDriver) GetState() (state.State, error) {
	i := min(d.calls, len(d.states)-1)
	d.calls++
	var err error
	if i < len(d.errs) {
		err = d.errs[i]
	}
	return d.states[i], err
}

func TestWaitForStateRetriesUntilTheStateIsReached(t *testing.T) {
	c := New(t.TempDir(), nil, nil)
	d := &statesDriver{states: []state.State{state.Starting, state.None, state.Running}, errs: []error{nil, errors.New("API throttled")}}
	require.NoError(t, c.WaitForState(t.Context(), &host.Host{Name: "m1", Driver: d}, state.Running, time.Minute))
	assert.Equal(t, 3, d.calls, "a failed GetState is retried")
}

func TestWaitForStateSaysWhatItSawLast(t *testing.T) {
	c := New(t.TempDir(), nil, nil)
	d := &statesDriver{states: []state.State{state.Stopped}}
	err := c.WaitForState(t.Context(), &host.Host{Name: "m1", Driver: d}, state.Running, 50*time.Millisecond)
	require.Error(t, err)
	assert.Equal(t, `waiting for machine "m1" to be Running: timed out after 50ms (last: Stopped)`, err.Error())

	gone := errors.New("driver plugin exited")
	d = &statesDriver{states: []state.State{state.Error}, errs: []error{poll.Permanent(gone)}}
	err = c.WaitForState(t.Context(), &host.Host{Name: "m1", Driver: d}, state.Running, time.Hour)
	require.ErrorIs(t, err, gone)
	assert.Equal(t, 1, d.calls, "an error that cannot clear ends the wait at once")
}
