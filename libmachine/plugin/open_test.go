package plugin

import (
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
	"log/slog"
	"os"
	"testing"

	"github.com/docker/machine/libmachine/drivers"
	rpcdriver "github.com/docker/machine/libmachine/drivers/rpc"
	"github.com/docker/machine/libmachine/mcnflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/libmachine/capability"

	"github.com/fleetdock/machine/drivers/generic"
	"github.com/fleetdock/machine/drivers/none"
)

func fixtureDriverJSON(t *testing.T, machine string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/" + machine + ".config.json")
	require.NoError(t, err)
	var cfg struct{ Driver json.RawMessage }
	require.NoError(t, json.Unmarshal(data, &cfg))
	var b bytes.Buffer
	require.NoError(t, json.Compact(&b, cfg.Driver))
	return b.Bytes()
}

func TestBuiltins(t *testing.T) {
	assert.Equal(t, []string{"generic", "none"}, Builtins())
}

func TestOpenBuiltinRoundTripsStoredJSON(t *testing.T) {
	for _, tc := range []struct{ driver, machine string }{
		{"none", "url-only"},
		{"generic", "generic-host"},
	} {
		t.Run(tc.driver, func(t *testing.T) {
			raw := fixtureDriverJSON(t, tc.machine)
			d, err := Open(context.Background(), tc.driver, raw, Options{})
			require.NoError(t, err)
			defer func() { assert.NoError(t, d.Close()) }()

			assert.Equal(t, tc.driver, d.DriverName())
			assert.Equal(t, tc.machine, d.GetMachineName())
			out, err := json.Marshal(d)
			require.NoError(t, err)
			assert.Equal(t, string(raw), string(out), "stored JSON comes back unchanged")
		})
	}
}

func TestOpenBuiltinKeepsConcreteDriver(t *testing.T) {
	d, err := Open(context.Background(), "none", fixtureDriverJSON(t, "url-only"), Options{})
	require.NoError(t, err)
	u, err := d.GetURL()
	require.NoError(t, err)
	assert.Equal(t, "tcp://127.0.0.9:2376", u)
	noSSH, ok := capability.Get[capability.SSHLess](d)
	require.True(t, ok, "capabilities reach the concrete built-in driver")
	assert.True(t, noSSH.HasNoSSH())
	assert.False(t, capability.Has[capability.LoadBalancing](d), "a capability the driver lacks is not offered")

	plain := none.NewDriver("x", "")
	assert.True(t, capability.Has[capability.SSHLess](plain), "a bare driver answers for itself")
}

func TestOpenBuiltinBootstrapsNewMachine(t *testing.T) {
	d, err := Open(context.Background(), "generic", nil, Options{MachineName: "fresh", StorePath: "/store"})
	require.NoError(t, err)
	assert.Equal(t, "fresh", d.GetMachineName())

	var got map[string]any
	out, err := json.Marshal(d)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(out, &got))
	assert.Equal(t, "fresh", got["MachineName"])
	assert.Equal(t, "/store", got["StorePath"])
	assert.EqualValues(t, generic.DefaultEnginePort, got["EnginePort"], "factory defaults survive bootstrap")
}

func TestOpenBuiltinRejectsDamagedConfig(t *testing.T) {
	_, err := Open(context.Background(), "none", []byte(`{"URL": 5}`), Options{MachineName: "broken"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `machine "broken"`)
	assert.Contains(t, err.Error(), "config.json may be damaged")
}

func TestOpenNotFound(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Open(context.Background(), "nosuch", nil, Options{MachineName: "m1", SearchDirs: []string{t.TempDir()}})
	require.Error(t, err)
	var nf *NotFoundError
	require.ErrorAs(t, err, &nf)
	assert.Equal(t,
		`Driver "nosuch" not found. Do you have the plugin binary "docker-machine-driver-nosuch" accessible in your PATH? (built-in drivers, which need no plugin binary: generic, none)`,
		err.Error())
}

func TestOpenRefusesPathLikeNames(t *testing.T) {
	for _, name := range []string{"../generic", "a/b", `a\b`, ""} {
		_, err := Open(context.Background(), name, nil, Options{})
		var nf *NotFoundError
		assert.ErrorAs(t, err, &nf, name)
	}
}

func TestServeBuiltinRefusesWhenNotAPlugin(t *testing.T) {
	t.Setenv("MACHINE_PLUGIN_TOKEN", "")
	err := ServeBuiltin("none")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not started as a driver plugin")

	t.Setenv("MACHINE_PLUGIN_TOKEN", "42")
	t.Setenv("MACHINE_PLUGIN_DRIVER_NAME", "generic")
	err = ServeBuiltin("none")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `started for driver "generic"`)

	t.Setenv("MACHINE_PLUGIN_DRIVER_NAME", "amazonec2")
	err = ServeBuiltin("amazonec2")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not built into this binary (built-in drivers: generic, none)")

	name, ok := StartedAsPlugin()
	assert.True(t, ok)
	assert.Equal(t, "amazonec2", name)
}

// Stock servers only decode flags sent under the stock gob names; importing
// rpcdriver must have registered exactly those.
func TestGobNamesMatchStockWire(t *testing.T) {
	var buf bytes.Buffer
	flags := []mcnflag.Flag{
		&mcnflag.StringFlag{Name: "a"}, &mcnflag.IntFlag{Name: "b"},
		&mcnflag.BoolFlag{Name: "c"}, &mcnflag.StringSliceFlag{Name: "d"},
	}
	require.NoError(t, gob.NewEncoder(&buf).Encode(&flags))
	var opts drivers.DriverOptions = rpcdriver.RPCFlags{Values: map[string]any{"x": "y"}}
	require.NoError(t, gob.NewEncoder(&buf).Encode(&opts))
	for _, name := range []string{"*mcnflag.StringFlag", "*mcnflag.IntFlag", "*mcnflag.BoolFlag", "*mcnflag.StringSliceFlag", "*rpcdriver.RPCFlags"} {
		assert.Contains(t, buf.String(), name)
	}
}

// loggingDriver is a built-in driver that takes a logger.
type loggingDriver struct {
	*none.Driver
	log *slog.Logger
}

func (d *loggingDriver) SetLogger(l *slog.Logger) { d.log = l }

func TestOpenBuiltinHandsTheLoggerToADriverThatTakesOne(t *testing.T) {
	const name = "logging-test"
	RegisterBuiltin(name, func() drivers.Driver { return &loggingDriver{Driver: none.NewDriver("", "")} })
	t.Cleanup(func() {
		registry.Lock()
		defer registry.Unlock()
		delete(registry.factories, name)
	})
	logger := slog.New(slog.DiscardHandler)
	d, err := Open(context.Background(), name, nil, Options{MachineName: "m1", StorePath: t.TempDir(), Logger: logger})
	require.NoError(t, err)
	got := d.(*local).Driver.(*loggingDriver)
	assert.Same(t, logger, got.log)
	assert.Equal(t, "m1", got.GetMachineName(), "the configuration is read as before")

	d, err = Open(context.Background(), name, nil, Options{MachineName: "m2", StorePath: t.TempDir()})
	require.NoError(t, err)
	assert.Nil(t, d.(*local).Driver.(*loggingDriver).log, "without a Logger the driver keeps its own default")
}
