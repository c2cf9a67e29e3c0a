package amazonec2

import (
	"bufio"
	"encoding/json"
	"io"
	"net/rpc"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/machine/libmachine/drivers"
	"github.com/docker/machine/libmachine/drivers/plugin/localbinary"
	rpcdriver "github.com/docker/machine/libmachine/drivers/rpc"
	"github.com/docker/machine/libmachine/state"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/libmachine/capability"
	"github.com/fleetdock/machine/libmachine/plugin"
)

// pluginAddresses starts the plugin binary as the stock launcher does (the
// token in the environment, the RPC address on its first output line),
// loads the machine's config and asks the capability service.
func pluginAddresses(t *testing.T, raw []byte) capability.Addresses {
	t.Helper()
	cmd := exec.Command("docker-machine-driver-amazonec2")
	cmd.Env = append(os.Environ(), localbinary.PluginEnvKey+"="+localbinary.PluginEnvVal, localbinary.PluginEnvDriverName+"="+Name)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	c, err := rpc.DialHTTP("tcp", strings.TrimSpace(addr))
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Call(rpcdriver.RPCServiceNameV1+".SetConfigRaw", raw, &struct{}{}))
	var supported []string
	require.NoError(t, c.Call(plugin.CapabilityService+".Supported", struct{}{}, &supported))
	require.Contains(t, supported, plugin.CapAddresses)
	var addrs capability.Addresses
	require.NoError(t, c.Call(plugin.CapabilityService+".Addresses", struct{}{}, &addrs))
	_ = c.Call(rpcdriver.RPCServiceNameV1+".Close", struct{}{}, &struct{}{})
	return addrs
}

// buildPlugin builds cmd/docker-machine-driver-amazonec2 into a fresh
// directory and puts that directory first on PATH, where the stock
// localbinary code looks for plugins. amazonec2 is one of stock
// docker-machine's core drivers, for which localbinary launches the binary
// "docker-machine" (itself) instead of docker-machine-driver-amazonec2; the
// binary is built under both names, so the stock client launches ours.
func buildPlugin(t *testing.T) {
	t.Helper()
	goTool, err := exec.LookPath("go")
	require.NoError(t, err, "the go tool is needed to build the plugin binary")
	dir := t.TempDir()
	bin := filepath.Join(dir, "docker-machine-driver-amazonec2")
	out, err := exec.Command(goTool, "build", "-o", bin, "github.com/fleetdock/machine/cmd/docker-machine-driver-amazonec2").CombinedOutput()
	require.NoError(t, err, "building the plugin: %s", out)
	require.NoError(t, os.Link(bin, filepath.Join(dir, "docker-machine")))
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// The plugin binary, driven by docker-machine 0.16.2's own client code
// (localbinary + rpcdriver), creates and removes a host.
func TestPluginBinaryThroughStockClient(t *testing.T) {
	buildPlugin(t)
	s := startSim(t, fastFaults())
	before := s.snapshot()
	store := t.TempDir()

	factory := rpcdriver.NewRPCClientDriverFactory()
	t.Cleanup(func() { _ = factory.Close() })
	boot, err := json.Marshal(&drivers.BaseDriver{MachineName: "plugged", StorePath: store})
	require.NoError(t, err)
	d, err := factory.NewRPCClientDriver(Name, boot)
	require.NoError(t, err)

	assert.Equal(t, Name, d.DriverName())
	require.NotEmpty(t, d.GetCreateFlags(), "the flags travel over gob")
	values := flagValues(NewDriver("", ""), s)
	values["amazonec2-tags"] = "via,plugin"
	require.NoError(t, d.SetConfigFromFlags(&rpcdriver.RPCFlags{Values: values}))
	require.NoError(t, d.PreCreateCheck())
	require.NoError(t, d.Create())

	st, err := d.GetState()
	require.NoError(t, err)
	assert.Equal(t, state.Running, st)
	ip, err := d.GetIP()
	require.NoError(t, err)
	assert.NotEmpty(t, ip)
	_, err = os.Stat(d.GetSSHKeyPath())
	assert.NoError(t, err, "the plugin wrote the machine's SSH key into the store")

	// What the CLI stores, and what a later command loads into a new plugin.
	raw, err := d.GetConfigRaw()
	require.NoError(t, err)
	var stored map[string]any
	require.NoError(t, json.Unmarshal(raw, &stored))
	require.NotEmpty(t, stored["InstanceId"])

	// The capability service next to the stock one reports the addresses.
	addrs := pluginAddresses(t, raw)
	assert.Equal(t, []string{ip}, addrs.Public)
	assert.NotEmpty(t, addrs.Private)

	again, err := factory.NewRPCClientDriver(Name, raw)
	require.NoError(t, err)
	assert.Equal(t, "plugged", again.GetMachineName())
	require.NoError(t, again.Remove())
	s.requireSameAs(before, "after rm through the plugin")
}
