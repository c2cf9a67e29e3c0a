package store

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The stock-written store, copied to a directory other than the one its
// paths name, lists, loads with every path resolved here, and removes.
func TestStockFixtureStore(t *testing.T) {
	s := copyFixture(t)

	names, err := s.List()
	require.NoError(t, err)
	assert.Equal(t, []string{"generic-host", "url-only"}, names)

	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			onDisk, err := os.ReadFile(s.configPath(name))
			require.NoError(t, err)

			h, err := s.Load(name)
			require.NoError(t, err)
			assert.Equal(t, name, h.Name)
			assert.Equal(t, 3, h.ConfigVersion)

			a := h.HostOptions.AuthOptions
			assert.Equal(t, s.CertsDir(), a.CertDir)
			assert.Equal(t, s.MachineDir(name), a.StorePath)
			assert.Equal(t, filepath.Join(s.MachineDir(name), "server.pem"), a.ServerCertPath)
			assert.Equal(t, filepath.Join(s.MachineDir(name), "server-key.pem"), a.ServerKeyPath)
			for _, p := range []string{a.CaCertPath, a.CaPrivateKeyPath, a.ClientCertPath, a.ClientKeyPath} {
				assert.True(t, strings.HasPrefix(p, s.CertsDir()+"/"), p)
				assert.FileExists(t, p)
			}
			assert.Empty(t, a.CaCertRemotePath, "remote paths are not local files")

			d := driverFields(t, h)
			assert.Equal(t, s.Path, d["StorePath"])
			assert.Equal(t, name, d["MachineName"])
			// The driver state is otherwise untouched, in the same order.
			stockDriver := topLevelKeys(t, []byte(extractDriver(t, onDisk)))
			assert.Equal(t, stockDriver, topLevelKeys(t, h.RawDriver))

			after, err := os.ReadFile(s.configPath(name))
			require.NoError(t, err)
			assert.Equal(t, onDisk, after, "relocation alone never rewrites config.json")
			_, err = os.Stat(filepath.Join(s.MachineDir(name), "config.json.bak"))
			assert.ErrorIs(t, err, os.ErrNotExist)
		})
	}

	h, err := s.Load("generic-host")
	require.NoError(t, err)
	d := driverFields(t, h)
	assert.Equal(t, filepath.Join(s.MachineDir("generic-host"), "k"), d["SSHKeyPath"])
	assert.FileExists(t, d["SSHKeyPath"].(string))
	assert.Equal(t, "/home/fixture/.ssh/id_ed25519", d["SSHKey"], "a path outside the store is the user's and stays")
	assert.EqualValues(t, 2376, d["EnginePort"])
	assert.FileExists(t, h.HostOptions.AuthOptions.ServerCertPath)
	assert.FileExists(t, h.HostOptions.AuthOptions.ServerKeyPath)
	assert.Equal(t, []string{"https://mirror.example.test"}, h.HostOptions.EngineOptions.RegistryMirror)

	require.NoError(t, s.Remove("url-only"))
	names, err = s.List()
	require.NoError(t, err)
	assert.Equal(t, []string{"generic-host"}, names)
	var ne *NotExistError
	_, err = s.Load("url-only")
	assert.ErrorAs(t, err, &ne)
	_, err = s.Load("generic-host")
	assert.NoError(t, err)
	assert.FileExists(t, filepath.Join(s.CertsDir(), "ca.pem"), "removing a machine leaves the store's certificates")
}

// extractDriver returns the raw Driver member of a config file.
func extractDriver(t *testing.T, config []byte) string {
	t.Helper()
	fields, err := decodeObject(config)
	require.NoError(t, err)
	for _, f := range fields {
		if f.Key == "Driver" {
			return string(f.Value)
		}
	}
	t.Fatalf("no Driver in %s", config)
	return ""
}

func TestRelocationRewritesOnlyPathsInsideTheOldStore(t *testing.T) {
	s := New(t.TempDir())
	const old = "/home/olduser/.docker/machine"
	writeConfig(t, s, "m", `{
    "ConfigVersion": 3,
    "Driver": {"SSHKeyPath": "/home/olduser/.docker/machine/machines/m/id_rsa", "Zeta": 1.50, "StorePath": "/home/olduser/.docker/machine", "Alpha": "/home/olduser/.docker/machine/certs/x", "SSHKeyPathOther": "/home/olduser/.docker/machine-other/k"},
    "DriverName": "generic",
    "HostOptions": {"AuthOptions": {
        "CertDir": "/home/olduser/.docker/machine/certs",
        "CaCertPath": "/etc/docker-tls/ca.pem",
        "CaPrivateKeyPath": "/etc/docker-tls/ca-key.pem",
        "ServerCertPath": "/home/olduser/.docker/machine/machines/m/server.pem",
        "ClientCertPath": "/home/olduser/.docker/machine-other/cert.pem",
        "ServerCertRemotePath": "/etc/docker/server.pem",
        "StorePath": "/home/olduser/.docker/machine/machines/m"
    }},
    "Name": "m"
}`)
	h, err := s.Load("m")
	require.NoError(t, err)
	a := h.HostOptions.AuthOptions
	assert.Equal(t, s.CertsDir(), a.CertDir)
	assert.Equal(t, "/etc/docker-tls/ca.pem", a.CaCertPath, "a CA given by the user stays")
	assert.Equal(t, "/etc/docker-tls/ca-key.pem", a.CaPrivateKeyPath)
	assert.Equal(t, filepath.Join(s.MachineDir("m"), "server.pem"), a.ServerCertPath)
	assert.Equal(t, "/home/olduser/.docker/machine-other/cert.pem", a.ClientCertPath, "a sibling directory is not inside the store")
	assert.Equal(t, "/etc/docker/server.pem", a.ServerCertRemotePath, "remote paths are never rewritten")
	assert.Equal(t, s.MachineDir("m"), a.StorePath)

	assert.Equal(t, []string{"SSHKeyPath", "Zeta", "StorePath", "Alpha", "SSHKeyPathOther"}, topLevelKeys(t, h.RawDriver))
	d := driverFields(t, h)
	assert.Equal(t, filepath.Join(s.MachineDir("m"), "id_rsa"), d["SSHKeyPath"])
	assert.Equal(t, s.Path, d["StorePath"])
	assert.Equal(t, old+"/certs/x", d["Alpha"], "only StorePath and SSHKeyPath are known to be store paths")
	assert.Contains(t, string(h.RawDriver), `"Zeta":1.50`, "other values keep their exact text")
}

func TestRelocationFallsBackToDriverStorePath(t *testing.T) {
	s := New(t.TempDir())
	// Stock's own v1->v2 migration wrote the store root into AuthOptions.StorePath.
	writeConfig(t, s, "m", `{"ConfigVersion":3,
    "Driver":{"MachineName":"m","SSHKeyPath":"/old/store/machines/m/id_rsa","StorePath":"/old/store"},
    "DriverName":"virtualbox",
    "HostOptions":{"AuthOptions":{"CertDir":"/old/store/certs","CaCertPath":"/old/store/certs/ca.pem","StorePath":"/old/store"}},
    "Name":"m"}`)
	h, err := s.Load("m")
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(s.CertsDir(), "ca.pem"), h.HostOptions.AuthOptions.CaCertPath)
	assert.Equal(t, s.Path, h.HostOptions.AuthOptions.StorePath)
	assert.Equal(t, filepath.Join(s.MachineDir("m"), "id_rsa"), driverFields(t, h)["SSHKeyPath"])
}
