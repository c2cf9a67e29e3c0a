package generic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

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
		mcnflag.IntFlag{Name: "generic-engine-port", Usage: "Docker engine port", Value: 2376, EnvVar: "GENERIC_ENGINE_PORT"},
		mcnflag.StringFlag{Name: "generic-ip-address", Usage: "IP Address of machine", EnvVar: "GENERIC_IP_ADDRESS"},
		mcnflag.StringFlag{Name: "generic-ssh-user", Usage: "SSH user", Value: "root", EnvVar: "GENERIC_SSH_USER"},
		mcnflag.StringFlag{Name: "generic-ssh-key", Usage: "SSH private key path (if not provided, default SSH key will be used)", EnvVar: "GENERIC_SSH_KEY"},
		mcnflag.IntFlag{Name: "generic-ssh-port", Usage: "SSH port", Value: 22, EnvVar: "GENERIC_SSH_PORT"},
	}, flags)
}

// flagValues builds options the way the CLI does: every flag's default,
// then the given values on top.
func flagValues(d drivers.Driver, set map[string]any) rpcdriver.RPCFlags {
	values := map[string]any{}
	for _, f := range d.GetCreateFlags() {
		values[f.String()] = f.Default()
	}
	for k, v := range set {
		values[k] = v
	}
	return rpcdriver.RPCFlags{Values: values}
}

func TestSetConfigFromFlags(t *testing.T) {
	d := NewDriver("m1", "/store")
	err := d.SetConfigFromFlags(flagValues(d, map[string]any{
		"generic-ip-address":  "127.0.0.2",
		"generic-ssh-key":     "/keys/id_ed25519",
		"generic-ssh-port":    2222,
		"generic-engine-port": 3376,
	}))
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.2", d.IPAddress)
	assert.Equal(t, "/keys/id_ed25519", d.SSHKey)
	assert.Equal(t, 2222, d.SSHPort)
	assert.Equal(t, 3376, d.EnginePort)
	assert.Equal(t, "root", d.GetSSHUsername(), "default user")
	host, err := d.GetSSHHostname()
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.2", host)
	assert.Equal(t, "generic", d.DriverName())
}

func TestSetConfigFromFlagsRequiresIP(t *testing.T) {
	d := NewDriver("m1", "/store")
	err := d.SetConfigFromFlags(flagValues(d, nil))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--generic-ip-address")
}

func TestStockFixtureRoundTrip(t *testing.T) {
	data, err := os.ReadFile("testdata/generic-host.config.json")
	require.NoError(t, err)
	var cfg struct{ Driver json.RawMessage }
	require.NoError(t, json.Unmarshal(data, &cfg))

	var d drivers.Driver = NewDriver("", "")
	require.NoError(t, json.Unmarshal(cfg.Driver, &d))
	gd := d.(*Driver)
	assert.Equal(t, "generic-host", gd.MachineName)
	assert.Equal(t, 2376, gd.EnginePort)
	assert.Equal(t, "/home/fixture/.ssh/id_ed25519", gd.SSHKey)
	assert.Equal(t, "/home/fixture/.docker/machine/machines/generic-host/k", gd.GetSSHKeyPath())

	out, err := json.Marshal(d)
	require.NoError(t, err)
	var want bytes.Buffer
	require.NoError(t, json.Compact(&want, cfg.Driver))
	assert.Equal(t, want.String(), string(out), "same fields, same order, same values")
}

func TestPreCreateCheck(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "id_test")
	require.NoError(t, os.WriteFile(key, []byte("not checked here"), 0o600))

	d := NewDriver("m1", dir)
	err := d.PreCreateCheck()
	require.Error(t, err, "no IP")
	assert.Contains(t, err.Error(), "--generic-ip-address")

	d.IPAddress = "127.0.0.1"
	assert.NoError(t, d.PreCreateCheck(), "no key means the default key")

	d.SSHKey = key
	assert.NoError(t, d.PreCreateCheck())

	d.SSHKey = filepath.Join(dir, "missing")
	err = d.PreCreateCheck()
	require.Error(t, err)
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), `"`+d.SSHKey+`"`)
	assert.Contains(t, err.Error(), "--generic-ssh-key")

	d.SSHKey = dir
	err = d.PreCreateCheck()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is a directory")
}

// listen starts a TCP listener on loopback that accepts and drops
// connections, standing in for the host's sshd.
func listen(t *testing.T) int {
	t.Helper()
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
	return l.Addr().(*net.TCPAddr).Port
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

func TestGetStateAndURL(t *testing.T) {
	d := NewDriver("m1", t.TempDir())
	d.IPAddress = "127.0.0.1"

	d.SSHPort = listen(t)
	s, err := d.GetState()
	require.NoError(t, err)
	assert.Equal(t, state.Running, s)
	u, err := d.GetURL()
	require.NoError(t, err)
	assert.Equal(t, "tcp://127.0.0.1:2376", u)

	d.SSHPort = closedPort(t)
	s, err = d.GetState()
	require.NoError(t, err)
	assert.Equal(t, state.Stopped, s)
	_, err = d.GetURL()
	assert.ErrorIs(t, err, drivers.ErrHostIsNotRunning)
}

func TestGetStateWithoutIP(t *testing.T) {
	d := NewDriver("m1", t.TempDir())
	s, err := d.GetState()
	require.Error(t, err)
	assert.Equal(t, state.Error, s)
	assert.Contains(t, err.Error(), `machine "m1" has no IP address`)
}

func TestCreateImportsKeyAndWaitsForSSH(t *testing.T) {
	store := t.TempDir()
	keyDir := t.TempDir()
	key := filepath.Join(keyDir, "deploy_key")
	require.NoError(t, os.WriteFile(key, []byte("PRIVATE"), 0o644))
	require.NoError(t, os.WriteFile(key+".pub", []byte("PUBLIC"), 0o644))

	d := NewDriver("m1", store)
	d.IPAddress = "127.0.0.1"
	d.SSHPort = listen(t)
	d.SSHKey = key
	require.NoError(t, d.PreCreateCheck())
	require.NoError(t, d.Create())

	wantPath := filepath.Join(store, "machines", "m1", "deploy_key")
	assert.Equal(t, wantPath, d.GetSSHKeyPath())
	for path, content := range map[string]string{wantPath: "PRIVATE", wantPath + ".pub": "PUBLIC"} {
		got, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.Equal(t, content, string(got))
		info, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), path)
	}
}

func TestCreateWithoutPublicKeyOrKey(t *testing.T) {
	store := t.TempDir()
	key := filepath.Join(t.TempDir(), "only_private")
	require.NoError(t, os.WriteFile(key, []byte("PRIVATE"), 0o600))

	d := NewDriver("m1", store)
	d.IPAddress = "127.0.0.1"
	d.SSHPort = listen(t)
	d.SSHKey = key
	require.NoError(t, d.Create())
	_, err := os.Stat(d.GetSSHKeyPath() + ".pub")
	assert.ErrorIs(t, err, os.ErrNotExist)

	d2 := NewDriver("m2", store)
	d2.IPAddress = "127.0.0.1"
	d2.SSHPort = d.SSHPort
	require.NoError(t, d2.Create())
	assert.Empty(t, d2.GetSSHKeyPath(), "default key: nothing imported")
}

func TestCreateGivesUpWhenSSHNeverAnswers(t *testing.T) {
	old := sshWaitTimeout
	sshWaitTimeout = 500 * time.Millisecond
	t.Cleanup(func() { sshWaitTimeout = old })

	d := NewDriver("m1", t.TempDir())
	d.IPAddress = "127.0.0.1"
	d.SSHPort = closedPort(t)
	err := d.Create()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `machine "m1"`)
	assert.Contains(t, err.Error(), "127.0.0.1:"+strconv.Itoa(d.SSHPort))
	assert.Contains(t, err.Error(), "to accept connections: timed out after 500ms (last error: ")
	assert.Contains(t, err.Error(), "connection refused")
	assert.Contains(t, err.Error(), "check that the host is up")
}

func TestUnsupportedOperations(t *testing.T) {
	d := NewDriver("m1", t.TempDir())
	assert.EqualError(t, d.Start(), "generic driver does not support start")
	assert.EqualError(t, d.Stop(), "generic driver does not support stop")
	assert.EqualError(t, d.Kill(), "generic driver does not support kill")
	assert.NoError(t, d.Remove())
}

func TestSetConfigFromFlagsChecksPorts(t *testing.T) {
	for _, tc := range []struct {
		flag string
		port int
	}{{"generic-ssh-port", 99999}, {"generic-ssh-port", 0}, {"generic-engine-port", -1}} {
		d := NewDriver("m1", "")
		err := d.SetConfigFromFlags(flagValues(d, map[string]any{"generic-ip-address": "127.0.0.1", tc.flag: tc.port}))
		assert.ErrorContains(t, err, fmt.Sprintf("--%s %d is not a TCP port", tc.flag, tc.port))
	}
}
