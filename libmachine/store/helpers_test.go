package store

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/machine/libmachine/drivers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/libmachine/host"
	"github.com/fleetdock/machine/libmachine/hostopts"
)

// fixtureRoot is the stock-written store; fixtureOrigin is the root its
// paths were written for.
var fixtureRoot = filepath.Join("..", "..", "testdata", "docker-machine-0.16.2-store")

const fixtureOrigin = "/home/fixture/.docker/machine"

// testHost is a machine as our create would make it, with a stock BaseDriver
// as its driver state.
func testHost(s *Store, name string) *host.Host {
	dir := s.MachineDir(name)
	raw, err := json.Marshal(drivers.BaseDriver{
		IPAddress:   "127.0.0.1",
		MachineName: name,
		SSHUser:     "docker",
		SSHPort:     22,
		SSHKeyPath:  filepath.Join(dir, "id_rsa"),
		StorePath:   s.Path,
	})
	if err != nil {
		panic(err) // a struct of strings and ints always encodes
	}
	return &host.Host{
		ConfigVersion: host.ConfigVersion,
		DriverName:    "generic",
		Name:          name,
		RawDriver:     raw,
		HostOptions: &host.Options{
			EngineOptions: &hostopts.Engine{TLSVerify: true, InstallURL: "https://get.docker.com", ArbitraryFlags: []string{}},
			SwarmOptions:  &hostopts.Swarm{Host: "tcp://0.0.0.0:3376", Image: "swarm:latest", Strategy: "spread"},
			AuthOptions: &hostopts.Auth{
				CertDir:          s.CertsDir(),
				CaCertPath:       filepath.Join(s.CertsDir(), "ca.pem"),
				CaPrivateKeyPath: filepath.Join(s.CertsDir(), "ca-key.pem"),
				ClientCertPath:   filepath.Join(s.CertsDir(), "cert.pem"),
				ClientKeyPath:    filepath.Join(s.CertsDir(), "key.pem"),
				ServerCertPath:   filepath.Join(dir, "server.pem"),
				ServerKeyPath:    filepath.Join(dir, "server-key.pem"),
				StorePath:        dir,
			},
		},
	}
}

// copyFixture copies the stock store into a temp dir with the modes the
// stock CLI gave (git keeps none): secrets and config.json 0600, other files
// 0644, directories 0700.
func copyFixture(t testing.TB) *Store {
	t.Helper()
	_, err := os.Stat(filepath.Join(fixtureRoot, "machines"))
	require.NoError(t, err, "the stock store fixture must be at %s", fixtureRoot)
	dst := filepath.Join(t.TempDir(), "machine")
	err = filepath.WalkDir(fixtureRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(fixtureRoot, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if n := d.Name(); n == "config.json" || n == "k" || n == "key.pem" || strings.HasSuffix(n, "-key.pem") {
			mode = 0o600
		}
		if err := os.WriteFile(target, data, mode); err != nil {
			return err
		}
		return os.Chmod(target, mode) // WriteFile's mode is subject to umask
	})
	require.NoError(t, err)
	return New(dst)
}

// writeConfig puts raw config bytes for name into the store by hand.
func writeConfig(t testing.TB, s *Store, name, data string) string {
	t.Helper()
	dir := s.MachineDir(name)
	require.NoError(t, os.MkdirAll(dir, 0o700))
	path := filepath.Join(dir, "config.json")
	require.NoError(t, os.WriteFile(path, []byte(data), 0o600))
	return path
}

// driverFields decodes a host's driver state.
func driverFields(t testing.TB, h *host.Host) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(h.RawDriver, &m))
	return m
}

// topLevelKeys returns the keys of a JSON object in file order.
func topLevelKeys(t testing.TB, data []byte) []string {
	t.Helper()
	fields, err := decodeObject(data)
	require.NoError(t, err)
	var keys []string
	for _, f := range fields {
		keys = append(keys, f.Key)
	}
	return keys
}

// assertConsistent checks what concurrent use must never break: every listed
// machine has a valid config that loads, no temp files or half-removed
// directories are left, and no lock files remain once all locks are released.
func assertConsistent(t *testing.T, s *Store) {
	t.Helper()
	names, err := s.List()
	require.NoError(t, err)
	entries, err := os.ReadDir(s.MachinesDir())
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, strings.HasPrefix(e.Name(), "."), "leftover hidden entry %s in machines/", e.Name())
	}
	for _, name := range names {
		data, err := os.ReadFile(s.configPath(name))
		if assert.NoError(t, err, "machine %s", name) {
			assert.True(t, json.Valid(data), "config.json of %s is not valid JSON: %q", name, data)
		}
		_, err = s.Load(name)
		assert.NoError(t, err)
		files, err := os.ReadDir(s.MachineDir(name))
		require.NoError(t, err)
		for _, f := range files {
			assert.Equal(t, "config.json", f.Name(), "stray file in %s", s.MachineDir(name))
		}
	}
	locks, err := os.ReadDir(filepath.Join(s.Path, locksDir))
	if err == nil {
		assert.Empty(t, locks, "lock files left behind")
	}
}
