package store

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/libmachine/host"
	"github.com/fleetdock/machine/libmachine/hostopts"
)

// Hand-written configs in the layouts of the old versions. ROOT is replaced
// by the store root the file claims to have been written in.

const configV0Text = `{
  "DriverName": "virtualbox",
  "Driver": {"IPAddress": "192.168.99.101", "SSHUser": "docker", "SSHPort": 50022, "MachineName": "old0",
             "SwarmMaster": true, "SwarmHost": "tcp://0.0.0.0:3376", "SwarmDiscovery": "token://t0",
             "CPU": 2, "Memory": 2048, "DiskSize": 20000},
  "StorePath": "ROOT/machines/old0",
  "CaCertPath": "ROOT/certs/ca.pem",
  "PrivateKeyPath": "ROOT/certs/ca-key.pem",
  "ServerCertPath": "ROOT/machines/old0/server.pem",
  "ServerKeyPath": "ROOT/machines/old0/server-key.pem",
  "ClientCertPath": "ROOT/certs/cert.pem",
  "ClientKeyPath": "ROOT/certs/key.pem",
  "SwarmHost": "tcp://0.0.0.0:3376",
  "SwarmMaster": true,
  "SwarmDiscovery": "token://t0"
}`

const configV1Text = `{
  "ConfigVersion": 1,
  "Driver": {"IPAddress": "10.1.2.3", "MachineName": "old1", "SSHUser": "ubuntu", "SSHPort": 22,
             "SSHKeyPath": "ROOT/machines/old1/id_rsa", "Region": "us-east-1", "InstanceId": "i-0abc"},
  "DriverName": "amazonec2",
  "HostOptions": {
    "Driver": "", "Memory": 1024, "Disk": 0,
    "EngineOptions": {"ArbitraryFlags": [], "Dns": null, "GraphDir": "", "Env": [], "Ipv6": false,
                      "InsecureRegistry": ["10.0.0.5:5000"], "Labels": ["tier=old"], "LogLevel": "",
                      "StorageDriver": "overlay2", "SelinuxEnabled": false, "TlsVerify": true,
                      "RegistryMirror": [], "InstallURL": "https://get.docker.com"},
    "SwarmOptions": {"IsSwarm": false, "Host": "tcp://0.0.0.0:3376", "Image": "swarm:latest", "Strategy": "spread"},
    "AuthOptions": {
      "StorePath": "ROOT/machines/old1",
      "CaCertPath": "ROOT/certs/ca.pem",
      "CaCertRemotePath": "",
      "ServerCertPath": "ROOT/machines/old1/server.pem",
      "ServerKeyPath": "ROOT/machines/old1/server-key.pem",
      "ClientKeyPath": "ROOT/certs/key.pem",
      "ServerCertRemotePath": "",
      "ServerKeyRemotePath": "",
      "PrivateKeyPath": "ROOT/certs/ca-key.pem",
      "ClientCertPath": "ROOT/certs/cert.pem"
    }
  },
  "StorePath": "ROOT/machines/old1"
}`

// Version 2 as written by docker-machine 0.5: no StorePath anywhere but in
// AuthOptions.
const configV2Text = `{
  "ConfigVersion": 2,
  "Driver": {"IPAddress": "192.168.99.102", "MachineName": "old2", "SSHUser": "docker", "SSHPort": 50123,
             "SSHKeyPath": "ROOT/machines/old2/id_rsa", "CPU": 1, "Memory": 1024},
  "DriverName": "virtualbox",
  "HostOptions": {
    "Driver": "", "Memory": 0, "Disk": 0,
    "EngineOptions": {"TlsVerify": true, "InstallURL": "https://get.docker.com", "Labels": []},
    "SwarmOptions": {"Host": "tcp://0.0.0.0:3376"},
    "AuthOptions": {
      "CertDir": "ROOT/certs",
      "CaCertPath": "ROOT/certs/ca.pem",
      "CaPrivateKeyPath": "ROOT/certs/ca-key.pem",
      "ServerCertPath": "ROOT/machines/old2/server.pem",
      "ServerKeyPath": "ROOT/machines/old2/server-key.pem",
      "ClientKeyPath": "ROOT/certs/key.pem",
      "ClientCertPath": "ROOT/certs/cert.pem",
      "StorePath": "ROOT/machines/old2"
    }
  },
  "Name": "old2"
}`

// loadMigrated writes text (with ROOT set to root) as machine name, loads it
// and checks what every migration must do: the original kept as .bak (0600),
// a version-3 config saved, and a second load that migrates nothing.
func loadMigrated(t *testing.T, s *Store, name, text, root string) *host.Host {
	t.Helper()
	original := strings.ReplaceAll(text, "ROOT", root)
	writeConfig(t, s, name, original)

	h, err := s.Load(name)
	require.NoError(t, err)
	assert.Equal(t, host.ConfigVersion, h.ConfigVersion)
	assert.Equal(t, name, h.Name)

	bak := filepath.Join(s.MachineDir(name), "config.json.bak")
	data, err := os.ReadFile(bak)
	require.NoError(t, err)
	assert.Equal(t, original, string(data), "the backup holds the original bytes")
	fi, err := os.Stat(bak)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode())

	saved, err := os.ReadFile(s.configPath(name))
	require.NoError(t, err)
	var meta host.Metadata
	require.NoError(t, json.Unmarshal(saved, &meta))
	assert.Equal(t, host.ConfigVersion, meta.ConfigVersion)
	assert.Equal(t, []string{"ConfigVersion", "Driver", "DriverName", "HostOptions", "Name"}, topLevelKeys(t, saved))

	// Loading again reads the saved version 3 and writes nothing.
	require.NoError(t, os.Remove(bak))
	again, err := s.Load(name)
	require.NoError(t, err)
	assert.Equal(t, h.HostOptions, again.HostOptions)
	assert.Equal(t, h.DriverName, again.DriverName)
	assert.JSONEq(t, string(h.RawDriver), string(again.RawDriver))
	_, err = os.Stat(bak)
	assert.ErrorIs(t, err, os.ErrNotExist)
	return h
}

func TestMigrateV0(t *testing.T) {
	s := New(t.TempDir())
	h := loadMigrated(t, s, "old0", configV0Text, s.Path)

	assert.Equal(t, "virtualbox", h.DriverName)
	o := h.HostOptions
	assert.True(t, o.EngineOptions.TLSVerify)
	assert.Equal(t, "https://get.docker.com", o.EngineOptions.InstallURL)
	assert.Equal(t, hostopts.Swarm{Master: true, Host: "tcp://0.0.0.0:3376", Discovery: "token://t0"}, *o.SwarmOptions)
	assert.Equal(t, hostopts.Auth{
		CertDir:          s.CertsDir(),
		CaCertPath:       filepath.Join(s.CertsDir(), "ca.pem"),
		CaPrivateKeyPath: filepath.Join(s.CertsDir(), "ca-key.pem"),
		ServerCertPath:   filepath.Join(s.MachineDir("old0"), "server.pem"),
		ServerKeyPath:    filepath.Join(s.MachineDir("old0"), "server-key.pem"),
		ClientCertPath:   filepath.Join(s.CertsDir(), "cert.pem"),
		ClientKeyPath:    filepath.Join(s.CertsDir(), "key.pem"),
		StorePath:        s.MachineDir("old0"),
	}, *o.AuthOptions)

	d := driverFields(t, h)
	assert.Equal(t, s.Path, d["StorePath"], "version 3 adds the store root to the driver state")
	assert.EqualValues(t, 50022, d["SSHPort"])
	assert.EqualValues(t, 2048, d["Memory"])
	assert.Equal(t, []string{"IPAddress", "SSHUser", "SSHPort", "MachineName", "SwarmMaster", "SwarmHost",
		"SwarmDiscovery", "CPU", "Memory", "DiskSize", "StorePath"}, topLevelKeys(t, h.RawDriver))
}

// A version-1 config from another home directory: migrated, and its paths
// resolved into this store in memory.
func TestMigrateV1FromAnotherStore(t *testing.T) {
	s := New(t.TempDir())
	const old = "/home/olduser/.docker/machine"
	h := loadMigrated(t, s, "old1", configV1Text, old)

	a := h.HostOptions.AuthOptions
	assert.Equal(t, filepath.Join(s.CertsDir(), "ca-key.pem"), a.CaPrivateKeyPath, "PrivateKeyPath became CaPrivateKeyPath")
	assert.Equal(t, s.CertsDir(), a.CertDir)
	assert.Equal(t, filepath.Join(s.CertsDir(), "ca.pem"), a.CaCertPath)
	assert.Equal(t, s.MachineDir("old1"), a.StorePath)
	assert.Equal(t, 1024, h.HostOptions.Memory)
	assert.Equal(t, []string{"tier=old"}, h.HostOptions.EngineOptions.Labels)
	assert.Equal(t, "overlay2", h.HostOptions.EngineOptions.StorageDriver)

	d := driverFields(t, h)
	assert.Equal(t, s.Path, d["StorePath"])
	assert.Equal(t, filepath.Join(s.MachineDir("old1"), "id_rsa"), d["SSHKeyPath"])
	assert.Equal(t, "i-0abc", d["InstanceId"])

	// On disk the migration is saved as the file described it; only the
	// in-memory copy is relocated.
	saved, err := os.ReadFile(s.configPath("old1"))
	require.NoError(t, err)
	assert.Contains(t, string(saved), `"CaPrivateKeyPath": "`+old+`/certs/ca-key.pem"`)
	assert.Contains(t, string(saved), `"StorePath": "`+old+`"`)
}

func TestMigrateV2(t *testing.T) {
	s := New(t.TempDir())
	h := loadMigrated(t, s, "old2", configV2Text, s.Path)
	d := driverFields(t, h)
	assert.Equal(t, s.Path, d["StorePath"], "derived from AuthOptions.StorePath, not stock's \".\"")
	assert.Equal(t, filepath.Join(s.MachineDir("old2"), "id_rsa"), d["SSHKeyPath"])
	assert.Equal(t, s.MachineDir("old2"), h.HostOptions.AuthOptions.StorePath)
	assert.Equal(t, filepath.Join(s.CertsDir(), "ca-key.pem"), h.HostOptions.AuthOptions.CaPrivateKeyPath)
	assert.Equal(t, []string{"IPAddress", "MachineName", "SSHUser", "SSHPort", "SSHKeyPath", "CPU", "Memory", "StorePath"},
		topLevelKeys(t, h.RawDriver))
}

func TestMigrateV2WrongNameIsCorrupt(t *testing.T) {
	s := New(t.TempDir())
	path := writeConfig(t, s, "elsewhere", strings.ReplaceAll(configV2Text, "ROOT", s.Path))
	_, err := s.Load("elsewhere")
	var ce *CorruptError
	require.ErrorAs(t, err, &ce)
	assert.Contains(t, err.Error(), `names machine "old2"`)
	_, err = os.Stat(filepath.Join(s.MachineDir("elsewhere"), "config.json.bak"))
	assert.ErrorIs(t, err, os.ErrNotExist, "a config that fails to load is not migrated")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Contains(t, string(data), `"ConfigVersion": 2`)
}

func TestMigrateV1WithoutAuthOptionsIsCorrupt(t *testing.T) {
	s := New(t.TempDir())
	writeConfig(t, s, "m", `{"ConfigVersion":1,"Driver":{},"DriverName":"none","HostOptions":{}}`)
	_, err := s.Load("m")
	var ce *CorruptError
	require.ErrorAs(t, err, &ce)
	assert.Contains(t, err.Error(), "AuthOptions is missing")
}
