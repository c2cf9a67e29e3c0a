package certs

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func storePaths(dir string) BootstrapPaths {
	certs := filepath.Join(dir, "certs")
	return BootstrapPaths{
		CACert:     filepath.Join(certs, "ca.pem"),
		CAKey:      filepath.Join(certs, "ca-key.pem"),
		ClientCert: filepath.Join(certs, "cert.pem"),
		ClientKey:  filepath.Join(certs, "key.pem"),
	}
}

func (p BootstrapPaths) all() []string { return []string{p.CACert, p.CAKey, p.ClientCert, p.ClientKey} }

func snapshot(t *testing.T, paths ...string) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		m[p] = data
	}
	return m
}

// assertClientTrusted checks the client certificate chains to the CA now on disk.
func assertClientTrusted(t *testing.T, p BootstrapPaths) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(mustReadCert(t, p.CACert))
	_, err := mustReadCert(t, p.ClientCert).Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	assert.NoError(t, err)
	_, err = ClientTLSConfig(p.CACert, p.ClientCert, p.ClientKey)
	assert.NoError(t, err, "client certificate and key must form a pair")
}

// pastWindow is a validity window that ended yesterday.
func pastWindow() validityWindow {
	end := time.Now().Add(-24 * time.Hour).Truncate(time.Minute)
	return validityWindow{notBefore: end.Add(-validity), notAfter: end}
}

func TestBootstrapCreatesStoreAndIsIdempotent(t *testing.T) {
	p := storePaths(filepath.Join(t.TempDir(), "machine"))

	created, err := Bootstrap(p, "alice")
	require.NoError(t, err)
	assert.Equal(t, p.all(), created)

	fi, err := os.Stat(filepath.Dir(p.CACert))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	assertMode(t, p.CACert, 0o644)
	assertMode(t, p.CAKey, 0o600)
	assertMode(t, p.ClientCert, 0o644)
	assertMode(t, p.ClientKey, 0o600)
	assert.Equal(t, []string{"alice"}, mustReadCert(t, p.CACert).Subject.Organization)
	assert.Equal(t, []string{"alice.<bootstrap>"}, mustReadCert(t, p.ClientCert).Subject.Organization)
	assertClientTrusted(t, p)

	before := snapshot(t, p.all()...)
	created, err = Bootstrap(p, "alice")
	require.NoError(t, err)
	assert.Empty(t, created, "a second run must write nothing")
	assert.Equal(t, before, snapshot(t, p.all()...))
}

func TestBootstrapEmptyOrgUsesDefault(t *testing.T) {
	t.Setenv("USER", "carol")
	p := storePaths(t.TempDir())
	_, err := Bootstrap(p, "")
	require.NoError(t, err)
	assert.Equal(t, []string{"carol"}, mustReadCert(t, p.CACert).Subject.Organization)
	assert.Equal(t, []string{"carol.<bootstrap>"}, mustReadCert(t, p.ClientCert).Subject.Organization)
}

func TestBootstrapReplacesExpiredCA(t *testing.T) {
	p := storePaths(t.TempDir())
	require.NoError(t, os.MkdirAll(filepath.Dir(p.CACert), 0o700))
	require.NoError(t, generateCA(p.CACert, p.CAKey, "alice", pastWindow()))
	require.NoError(t, generateClientCert(p.CACert, p.CAKey, p.ClientCert, p.ClientKey, "alice.<bootstrap>", pastWindow()))
	old := snapshot(t, p.all()...)

	created, err := Bootstrap(p, "alice")
	require.NoError(t, err)
	assert.Equal(t, p.all(), created)
	for path, data := range snapshot(t, p.all()...) {
		assert.NotEqual(t, old[path], data, "%s must be replaced", path)
	}
	assert.True(t, time.Now().Before(mustReadCert(t, p.CACert).NotAfter))
	assertClientTrusted(t, p)
}

func TestBootstrapRefusesHalfCA(t *testing.T) {
	for _, missing := range []string{"cert", "key"} {
		t.Run("missing "+missing, func(t *testing.T) {
			p := storePaths(t.TempDir())
			_, err := Bootstrap(p, "alice")
			require.NoError(t, err)
			gone, kept := p.CACert, p.CAKey
			if missing == "key" {
				gone, kept = p.CAKey, p.CACert
			}
			require.NoError(t, os.Remove(gone))
			before := snapshot(t, kept, p.ClientCert, p.ClientKey)

			created, err := Bootstrap(p, "alice")
			require.Error(t, err)
			assert.Empty(t, created)
			assert.ErrorContains(t, err, p.CACert)
			assert.ErrorContains(t, err, p.CAKey)
			assert.ErrorContains(t, err, "incomplete")
			assert.NoFileExists(t, gone, "the missing half must not be invented")
			assert.Equal(t, before, snapshot(t, kept, p.ClientCert, p.ClientKey), "nothing may be overwritten")
		})
	}
}

func TestBootstrapRefusesMismatchedCAKey(t *testing.T) {
	p := storePaths(t.TempDir())
	_, err := Bootstrap(p, "alice")
	require.NoError(t, err)
	other := newTestCA(t, "mallory")
	otherKey, err := os.ReadFile(other.key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(p.CAKey, otherKey, 0o600))
	before := snapshot(t, p.all()...)

	_, err = Bootstrap(p, "alice")
	assert.ErrorContains(t, err, "does not belong to")
	assert.Equal(t, before, snapshot(t, p.all()...))
}

func TestBootstrapReissuesClientCert(t *testing.T) {
	cases := map[string]func(t *testing.T, p BootstrapPaths){
		"signed by another CA": func(t *testing.T, p BootstrapPaths) {
			other := newTestCA(t, "mallory")
			c, k := other.issueClient(t, "client")
			copyFile(t, c, p.ClientCert)
			copyFile(t, k, p.ClientKey)
		},
		"expired": func(t *testing.T, p BootstrapPaths) {
			require.NoError(t, generateClientCert(p.CACert, p.CAKey, p.ClientCert, p.ClientKey, "alice.<bootstrap>", pastWindow()))
		},
		"certificate missing": func(t *testing.T, p BootstrapPaths) {
			require.NoError(t, os.Remove(p.ClientCert))
		},
		"key missing": func(t *testing.T, p BootstrapPaths) {
			require.NoError(t, os.Remove(p.ClientKey))
		},
		"key does not match": func(t *testing.T, p BootstrapPaths) {
			other := newTestCA(t, "mallory")
			_, k := other.issueClient(t, "client")
			copyFile(t, k, p.ClientKey)
		},
		"certificate corrupt": func(t *testing.T, p BootstrapPaths) {
			require.NoError(t, os.WriteFile(p.ClientCert, []byte("garbage"), 0o644))
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			p := storePaths(t.TempDir())
			_, err := Bootstrap(p, "alice")
			require.NoError(t, err)
			caBefore := snapshot(t, p.CACert, p.CAKey)
			damage(t, p)

			created, err := Bootstrap(p, "alice")
			require.NoError(t, err)
			assert.Equal(t, []string{p.ClientCert, p.ClientKey}, created)
			assert.Equal(t, caBefore, snapshot(t, p.CACert, p.CAKey), "the CA must be kept")
			assertClientTrusted(t, p)
			assertMode(t, p.ClientCert, 0o644)
			assertMode(t, p.ClientKey, 0o600)
		})
	}
}

func TestBootstrapRejectsUnusableCA(t *testing.T) {
	p := storePaths(t.TempDir())
	_, err := Bootstrap(p, "alice")
	require.NoError(t, err)

	// A client certificate given as --tls-ca-cert (with its own key) is not a CA.
	copyFile(t, p.ClientCert, p.CACert)
	copyFile(t, p.ClientKey, p.CAKey)
	_, err = Bootstrap(p, "alice")
	assert.ErrorContains(t, err, "is not a CA certificate")

	require.NoError(t, os.WriteFile(p.CACert, []byte("garbage"), 0o644))
	_, err = Bootstrap(p, "alice")
	assert.ErrorContains(t, err, "cannot be used")
	assert.ErrorContains(t, err, p.CACert)
}

func TestBootstrapNeedsAllPaths(t *testing.T) {
	p := storePaths(t.TempDir())
	p.ClientKey = ""
	_, err := Bootstrap(p, "alice")
	assert.Error(t, err)
	assert.NoFileExists(t, p.CACert)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	require.NoError(t, err)
	fi, err := os.Stat(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, data, fi.Mode().Perm()))
}
