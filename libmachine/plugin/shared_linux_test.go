package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/docker/machine/libmachine/drivers"
	rpcdriver "github.com/docker/machine/libmachine/drivers/rpc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/drivers/none"
	"github.com/fleetdock/machine/libmachine/capability"
)

// sharedDriverName is a built-in of the test binary that prepares shared
// resources; the tests run it in process and as a plugin (the test binary
// re-executed, whose TestMain serves it).
const sharedDriverName = "fleetshared"

// sharedDriver "prepares" a network named by its URL. FLEET_SHARED_MODE
// (ok, fail, block) makes it succeed, fail or never finish.
type sharedDriver struct{ *none.Driver }

func (d *sharedDriver) PrepareShared(ctx context.Context) ([]capability.Resource, error) {
	switch os.Getenv("FLEET_SHARED_MODE") {
	case "fail":
		return nil, errors.New("network quota exceeded in region test-1")
	case "block":
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return []capability.Resource{{Kind: "network", ID: d.URL, Region: "test-1"}}, nil
}

func newSharedDriver() drivers.Driver { return &sharedDriver{none.NewDriver("", "")} }

// The re-executed test binary serves the built-in only when asked, so that
// the other tests see just the built-ins TestMain registers.
func init() {
	if os.Getenv("FLEET_SHARED_MODE") != "" {
		RegisterBuiltin(sharedDriverName, newSharedDriver)
	}
}

// registerShared makes fleetshared a built-in for one test.
func registerShared(t *testing.T) {
	RegisterBuiltin(sharedDriverName, newSharedDriver)
	t.Cleanup(func() {
		registry.Lock()
		defer registry.Unlock()
		delete(registry.factories, sharedDriverName)
	})
}

// launchShared starts the test binary as the fleetshared plugin, configured
// from create options and bound to no machine, as DriverFor leaves one.
func launchShared(t *testing.T, mode string) *Client {
	t.Helper()
	t.Setenv(fakeModeEnv, "")
	t.Setenv("FLEET_SHARED_MODE", mode)
	logger, _ := newLogger()
	c, err := Launch(context.Background(), selfAs(t, sharedDriverName), logger)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	bare, err := json.Marshal(drivers.BaseDriver{})
	require.NoError(t, err)
	require.NoError(t, c.SetConfigRaw(bare))
	require.NoError(t, c.SetConfigFromFlags(rpcdriver.RPCFlags{Values: map[string]any{"url": "tcp://127.0.0.7:2376"}}))
	return c
}

func TestPrepareSharedThroughPlugin(t *testing.T) {
	c := launchShared(t, "ok")
	p, ok := capability.Get[capability.SharedPreparer](c)
	require.True(t, ok, "the plugin lists %s", CapShared)
	rs, err := p.PrepareShared(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []capability.Resource{{Kind: "network", ID: "tcp://127.0.0.7:2376", Region: "test-1"}}, rs,
		"the driver in the plugin was configured from the create options")
	require.NoError(t, c.Close())
	requireNoChildren(t)
}

func TestPrepareSharedErrorThroughPlugin(t *testing.T) {
	c := launchShared(t, "fail")
	p, ok := capability.Get[capability.SharedPreparer](c)
	require.True(t, ok)
	rs, err := p.PrepareShared(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "network quota exceeded in region test-1")
	assert.Empty(t, rs)
	assert.True(t, Usable(c), "a failed call leaves the plugin running")
	require.NoError(t, c.Close())
	requireNoChildren(t)
}

func TestPrepareSharedThroughPluginStopsWithContext(t *testing.T) {
	c := launchShared(t, "block")
	p, ok := capability.Get[capability.SharedPreparer](c)
	require.True(t, ok)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := p.PrepareShared(ctx)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "PrepareShared on machine")
	assert.Contains(t, err.Error(), "was interrupted and driver plugin")
	assert.False(t, Usable(c), "the interrupted plugin was stopped")
	requireNoChildren(t)
}

func TestStockPluginOffersNoSharedPreparer(t *testing.T) {
	t.Setenv(fakeModeEnv, "stock-none")
	logger, _ := newLogger()
	c, err := Launch(context.Background(), selfAs(t, "stocknone"), logger)
	require.NoError(t, err)
	defer c.Close()
	assert.False(t, capability.Has[capability.SharedPreparer](c))
}

func TestBuiltinSharedPreparerAnswersInProcess(t *testing.T) {
	t.Setenv("FLEET_SHARED_MODE", "ok")
	registerShared(t)
	d, err := Open(context.Background(), sharedDriverName, nil, Options{})
	require.NoError(t, err)
	defer d.Close()
	_, isPlugin := d.(*Client)
	require.False(t, isPlugin)
	require.NoError(t, d.SetConfigFromFlags(rpcdriver.RPCFlags{Values: map[string]any{"url": "tcp://127.0.0.8:2376"}}))
	p, ok := capability.Get[capability.SharedPreparer](d)
	require.True(t, ok)
	rs, err := p.PrepareShared(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []capability.Resource{{Kind: "network", ID: "tcp://127.0.0.8:2376", Region: "test-1"}}, rs)
	assert.Equal(t, []string{CapNoSSH, CapShared}, supported(d.(*local).Driver), "what a plugin serving it lists")
}
