package libmachine

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/testbin"
	"github.com/fleetdock/machine/libmachine/plugin"
)

// misbehavingPlugin puts the test plugin on PATH as the generic driver's
// plugin, dying in the named calls, and returns its call log.
func misbehavingPlugin(t *testing.T, exitIn string) (logPath string) {
	t.Helper()
	built := filepath.Join(testbin.Build(t, "./integration/cmd/testplugin"), "testplugin")
	dir := t.TempDir()
	require.NoError(t, os.Symlink(built, filepath.Join(dir, plugin.BinaryPrefix+"generic")))
	t.Setenv("PATH", dir)
	logPath = filepath.Join(t.TempDir(), "calls.log")
	t.Setenv("TESTPLUGIN_EXIT_IN", exitIn)
	t.Setenv("TESTPLUGIN_CALL_LOG", logPath)
	return logPath
}

// sshPort is a loopback listener standing in for a host's SSH port.
func sshPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

func genericRequest(t *testing.T, c *Client, port string) (plugin.Driver, CreateRequest) {
	d, err := c.OpenDriver(t.Context(), "generic")
	require.NoError(t, err)
	req := NewCreateRequest("m1", "generic")
	req.DriverOptions, err = DriverOptionsFrom(d.GetCreateFlags(), map[string][]string{
		"generic-ip-address": {"127.0.0.1"}, "generic-ssh-port": {port}})
	require.NoError(t, err)
	return d, req
}

// A plugin that dies during create: the error names the plugin and its
// last output, not the step that ran next, and the cleanup reaches a
// relaunched plugin instead of the dead one.
func TestPluginDyingInCreateIsCleanedUpByAFreshOne(t *testing.T) {
	logPath := misbehavingPlugin(t, "Create")
	c := New(t.TempDir(), nil, nil)
	defer c.Close()
	d, req := genericRequest(t, c, sshPort(t))

	err := c.CreateMachine(t.Context(), d, req)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Error in driver during machine creation")
	assert.Contains(t, err.Error(), "testplugin: dying in Create as asked", "the plugin's own last words")
	assert.NotContains(t, err.Error(), "Remove", "the cleanup is not blamed")
	assertGone(t, c, "m1")

	calls, err := os.ReadFile(logPath)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(calls)), "\n")
	require.Len(t, lines, 2, "Create in one process, Remove in another:\n%s", calls)
	createPid, _, _ := strings.Cut(lines[0], " ")
	removePid, removeCall, _ := strings.Cut(lines[1], " ")
	assert.Equal(t, "Remove", removeCall)
	assert.NotEqual(t, createPid, removePid, "the dead plugin was relaunched for the cleanup")
}

// A plugin that dies while the create waits for Running ends the wait at
// once: a dead process is an error no retry can clear.
func TestPluginDyingInGetStateEndsTheWaitAtOnce(t *testing.T) {
	misbehavingPlugin(t, "GetState")
	c := New(t.TempDir(), nil, nil)
	defer c.Close()
	d, req := genericRequest(t, c, sshPort(t))

	start := time.Now()
	err := c.CreateMachine(t.Context(), d, req)
	require.Error(t, err)
	assert.Less(t, time.Since(start), time.Minute, "not the 5-minute state timeout")
	assert.Contains(t, err.Error(), "testplugin: dying in GetState as asked")
	assert.NotContains(t, err.Error(), "timed out")
	assertGone(t, c, "m1")
}
