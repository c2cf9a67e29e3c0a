package certs

import (
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stockCertDir holds certificates written by stock docker-machine 0.16.2.
const stockCertDir = "../testdata/docker-machine-0.16.2-store/certs"

// stockStore copies the stock certs into a writable temp store (the fixture is read-only).
func stockStore(t *testing.T) BootstrapPaths {
	t.Helper()
	_, err := os.Stat(stockCertDir)
	require.NoError(t, err, "the stock docker-machine fixture store is missing")
	p := storePaths(t.TempDir())
	require.NoError(t, os.MkdirAll(filepath.Dir(p.CACert), 0o700))
	for _, f := range []struct {
		name, to string
		mode     os.FileMode
	}{
		{"ca.pem", p.CACert, 0o644}, {"ca-key.pem", p.CAKey, 0o600},
		{"cert.pem", p.ClientCert, 0o644}, {"key.pem", p.ClientKey, 0o600},
	} {
		data, err := os.ReadFile(filepath.Join(stockCertDir, f.name))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(f.to, data, f.mode))
	}
	return p
}

func TestStockFixtureCertsLoadAndVerify(t *testing.T) {
	p := stockStore(t)
	ca := mustReadCert(t, p.CACert)
	client := mustReadCert(t, p.ClientCert)
	assert.True(t, ca.IsCA)
	assert.Equal(t, []string{"fixture"}, ca.Subject.Organization)
	assert.Equal(t, []string{"fixture.<bootstrap>"}, client.Subject.Organization)

	roots := x509.NewCertPool()
	roots.AddCert(ca)
	_, err := client.Verify(x509.VerifyOptions{
		Roots:       roots,
		CurrentTime: client.NotBefore.Add(time.Hour),
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	assert.NoError(t, err)

	_, err = ClientTLSConfig(p.CACert, p.ClientCert, p.ClientKey)
	assert.NoError(t, err)
	key, err := readPrivateKey(p.CAKey)
	require.NoError(t, err)
	assert.True(t, keyMatches(ca, key))
}

// A store made by the stock CLI is used as is, and a daemon certificate we issue from the
// stock CA accepts the stock client certificate over TLS.
func TestStockFixtureStoreWorksWithOurCode(t *testing.T) {
	p := stockStore(t)
	require.True(t, time.Now().Before(mustReadCert(t, p.CACert).NotAfter),
		"the stock fixture CA has expired; regenerate the fixture with docker-machine 0.16.2")

	before := snapshot(t, p.all()...)
	created, err := Bootstrap(p, "fixture")
	require.NoError(t, err)
	assert.Empty(t, created)
	assert.Equal(t, before, snapshot(t, p.all()...))

	dir := filepath.Dir(p.CACert)
	serverCert, serverKey := filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
	hosts := ServerCertHosts("m", nil, nil)
	require.NoError(t, GenerateServerCert(p.CACert, p.CAKey, serverCert, serverKey, ServerCertOptions{Org: "fixture.m", Hosts: hosts}))
	assert.NoError(t, CheckServerCert(p.CACert, serverCert, hosts, time.Now()))

	srv := startTLSServer(t, serverCert, serverKey, p.CACert)
	assert.NoError(t, CheckConnection(context.Background(), srv.addr, p.CACert, p.ClientCert, p.ClientKey))
	assert.NoError(t, srv.result(t))
}
