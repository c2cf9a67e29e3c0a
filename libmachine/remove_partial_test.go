package libmachine

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/docker/machine/libmachine/drivers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/libmachine/plugin"
)

// partialDriver's Remove deletes part of what its machine has (it forgets
// the Private address, as a driver clears the ID of a resource it deleted)
// and then fails, as a teardown stopped by a throttled call.
type partialDriver struct{ *fakeDriver }

func (partialDriver) DriverName() string { return "partial" }

func (d *partialDriver) Remove() error {
	d.Private = nil
	return errors.New("DeleteSecurityGroup failed: Throttling")
}

func TestAFailedRemoveKeepsOnlyWhatIsLeftInTheStore(t *testing.T) {
	w := newWorld(t, func(d *fakeDriver, _ *fakeMachine) { d.Private = []string{"10.9.9.9"} })
	plugin.RegisterBuiltin("partial", func() drivers.Driver { return &partialDriver{w.d} })
	require.NoError(t, w.c.CreateMachine(t.Context(), nil, NewCreateRequest("m1", "partial")))
	config := filepath.Join(w.c.Store.MachineDir("m1"), "config.json")
	raw, err := os.ReadFile(config)
	require.NoError(t, err)
	require.Contains(t, string(raw), "10.9.9.9")

	_, err = w.c.Remove(t.Context(), "m1", false)
	require.ErrorContains(t, err, "Throttling")
	raw, err = os.ReadFile(config)
	require.NoError(t, err, "the entry stays")
	assert.NotContains(t, string(raw), "10.9.9.9", "what the driver removed is no longer in the entry")
}
