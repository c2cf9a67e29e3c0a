package none

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/docker/machine/libmachine/drivers"
	rpcdriver "github.com/docker/machine/libmachine/drivers/rpc"
	"github.com/docker/machine/libmachine/mcnflag"
	"github.com/docker/machine/libmachine/state"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCreateFlagsMatchStock(t *testing.T) {
	flags := NewDriver("", "").GetCreateFlags()
	assert.Equal(t, []mcnflag.Flag{
		mcnflag.StringFlag{Name: "url", Usage: "URL of host when no driver is selected"},
	}, flags)
}

func TestSetConfigFromFlags(t *testing.T) {
	d := NewDriver("m1", "/store")
	err := d.SetConfigFromFlags(rpcdriver.RPCFlags{Values: map[string]any{"url": "tcp://127.0.0.9:2376"}})
	require.NoError(t, err)

	assert.Equal(t, "tcp://127.0.0.9:2376", d.URL)
	ip, err := d.GetIP()
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.9:2376", ip, "stock keeps the port in IPAddress")
	u, err := d.GetURL()
	require.NoError(t, err)
	assert.Equal(t, "tcp://127.0.0.9:2376", u)
	s, err := d.GetState()
	require.NoError(t, err)
	assert.Equal(t, state.Running, s)
	assert.Equal(t, "none", d.DriverName())
	assert.Equal(t, "m1", d.GetMachineName())
}

func TestSetConfigFromFlagsErrors(t *testing.T) {
	d := NewDriver("m1", "/store")
	err := d.SetConfigFromFlags(rpcdriver.RPCFlags{Values: map[string]any{"url": ""}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--url option is required")

	err = d.SetConfigFromFlags(rpcdriver.RPCFlags{Values: map[string]any{"url": "tcp://[bad"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a valid URL")
}

func TestLifecycleIsRefused(t *testing.T) {
	d := NewDriver("m1", "/store")
	assert.NoError(t, d.Create())
	assert.NoError(t, d.Remove())
	assert.EqualError(t, d.Start(), "hosts without a driver cannot be started")
	assert.EqualError(t, d.Stop(), "hosts without a driver cannot be stopped")
	assert.EqualError(t, d.Restart(), "hosts without a driver cannot be restarted")
	assert.EqualError(t, d.Kill(), "hosts without a driver cannot be killed")
}

// The stock store's Driver JSON must load and save back byte for byte
// (field names, order and values).
func TestStockFixtureRoundTrip(t *testing.T) {
	raw := fixtureDriver(t, "testdata/url-only.config.json")

	var d drivers.Driver = NewDriver("", "")
	require.NoError(t, json.Unmarshal(raw, &d))
	nd := d.(*Driver)
	assert.Equal(t, "url-only", nd.MachineName)
	assert.Equal(t, "tcp://127.0.0.9:2376", nd.URL)

	out, err := json.Marshal(d)
	require.NoError(t, err)
	assert.Equal(t, compact(t, raw), string(out))
}

func fixtureDriver(t *testing.T, path string) json.RawMessage {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var cfg struct{ Driver json.RawMessage }
	require.NoError(t, json.Unmarshal(data, &cfg))
	require.NotEmpty(t, cfg.Driver)
	return cfg.Driver
}

func compact(t *testing.T, raw []byte) string {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, json.Compact(&b, raw))
	return b.String()
}
