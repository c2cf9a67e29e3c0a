package certs

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testCA is a CA created in a test's temp dir.
type testCA struct {
	dir, cert, key string
}

func newTestCA(t testing.TB, org string) testCA {
	t.Helper()
	dir := t.TempDir()
	ca := testCA{dir: dir, cert: filepath.Join(dir, "ca.pem"), key: filepath.Join(dir, "ca-key.pem")}
	require.NoError(t, GenerateCA(ca.cert, ca.key, org))
	return ca
}

// issueServer writes server.pem/server-key.pem next to the CA and returns their paths.
func (ca testCA) issueServer(t testing.TB, name string, opts ServerCertOptions) (string, string) {
	t.Helper()
	cert := filepath.Join(ca.dir, name+".pem")
	key := filepath.Join(ca.dir, name+"-key.pem")
	require.NoError(t, GenerateServerCert(ca.cert, ca.key, cert, key, opts))
	return cert, key
}

func (ca testCA) issueClient(t testing.TB, name string) (string, string) {
	t.Helper()
	cert := filepath.Join(ca.dir, name+".pem")
	key := filepath.Join(ca.dir, name+"-key.pem")
	require.NoError(t, GenerateClientCert(ca.cert, ca.key, cert, key, "tester.<bootstrap>"))
	return cert, key
}

func (ca testCA) pool(t testing.TB) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	p.AddCert(mustReadCert(t, ca.cert))
	return p
}

func mustReadCert(t testing.TB, path string) *x509.Certificate {
	t.Helper()
	c, err := ReadCertificate(path)
	require.NoError(t, err)
	return c
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, want, fi.Mode().Perm(), "mode of %s", path)
}

// assertRSAKeyFile checks the stock key format: one PKCS#1 "RSA PRIVATE KEY" of 2048 bits.
func assertRSAKeyFile(t *testing.T, path string, cert *x509.Certificate) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	block, rest := pem.Decode(data)
	require.NotNil(t, block, "no PEM block in %s", path)
	assert.Empty(t, rest)
	assert.Equal(t, "RSA PRIVATE KEY", block.Type)
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	require.NoError(t, err)
	assert.Equal(t, 2048, key.N.BitLen())
	assert.True(t, key.PublicKey.Equal(cert.PublicKey), "key %s does not match its certificate", path)
}

// assertStockShape checks what every certificate shares: serial, validity, subject, algorithms.
func assertStockShape(t *testing.T, c *x509.Certificate, org string, before, after time.Time) {
	t.Helper()
	assert.Equal(t, x509.SHA256WithRSA, c.SignatureAlgorithm)
	assert.Equal(t, x509.RSA, c.PublicKeyAlgorithm)
	assert.Equal(t, 2048, c.PublicKey.(*rsa.PublicKey).N.BitLen())
	assert.Positive(t, c.SerialNumber.Sign())
	assert.LessOrEqual(t, c.SerialNumber.BitLen(), 128)
	assert.Equal(t, []string{org}, c.Subject.Organization)
	assert.Empty(t, c.Subject.CommonName)
	assert.Empty(t, c.Subject.OrganizationalUnit)
	assert.Empty(t, c.Subject.Country)
	assert.True(t, c.BasicConstraintsValid)
	assert.Zero(t, c.NotBefore.Second(), "NotBefore is truncated to the minute")
	assert.False(t, c.NotBefore.Before(before.Add(-backdate).Truncate(time.Minute)), "NotBefore %s too early", c.NotBefore)
	assert.False(t, c.NotBefore.After(after.Add(-backdate)), "NotBefore %s too late", c.NotBefore)
	assert.Equal(t, 1080*24*time.Hour, c.NotAfter.Sub(c.NotBefore))
}

func TestGenerateCA(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	before := time.Now()
	require.NoError(t, GenerateCA(certPath, keyPath, "alice"))
	after := time.Now()

	ca := mustReadCert(t, certPath)
	assertStockShape(t, ca, "alice", before, after)
	assert.True(t, ca.IsCA)
	assert.Equal(t, x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment|x509.KeyUsageKeyAgreement|x509.KeyUsageCertSign, ca.KeyUsage)
	assert.Equal(t, ca.Subject.String(), ca.Issuer.String())
	assert.NoError(t, ca.CheckSignatureFrom(ca), "CA must be self-signed")
	assertRSAKeyFile(t, keyPath, ca)
	assertMode(t, certPath, 0o644)
	assertMode(t, keyPath, 0o600)

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{"ca.pem", "ca-key.pem"}, names, "no temp files may be left behind")
}

func TestGenerateClientCert(t *testing.T) {
	ca := newTestCA(t, "alice")
	certPath, keyPath := filepath.Join(ca.dir, "cert.pem"), filepath.Join(ca.dir, "key.pem")
	before := time.Now()
	require.NoError(t, GenerateClientCert(ca.cert, ca.key, certPath, keyPath, "alice.<bootstrap>"))
	after := time.Now()

	c := mustReadCert(t, certPath)
	assertStockShape(t, c, "alice.<bootstrap>", before, after)
	assert.False(t, c.IsCA)
	assert.Equal(t, x509.KeyUsageDigitalSignature, c.KeyUsage)
	assert.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, c.ExtKeyUsage)
	assert.Empty(t, c.DNSNames)
	assert.Empty(t, c.IPAddresses)
	assertRSAKeyFile(t, keyPath, c)
	assertMode(t, certPath, 0o644)
	assertMode(t, keyPath, 0o600)

	_, err := c.Verify(x509.VerifyOptions{Roots: ca.pool(t), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	assert.NoError(t, err)
	_, err = c.Verify(x509.VerifyOptions{Roots: ca.pool(t), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	assert.Error(t, err, "a client certificate must not be usable as a server certificate")
}

func TestGenerateServerCert(t *testing.T) {
	ca := newTestCA(t, "alice")
	hosts := []string{"10.0.0.7", "172.17.0.2", "node-1", "localhost", "127.0.0.1", "::1", "docker.example.test"}
	before := time.Now()
	certPath, keyPath := ca.issueServer(t, "server", ServerCertOptions{Org: "alice.node-1", Hosts: hosts})
	after := time.Now()

	c := mustReadCert(t, certPath)
	assertStockShape(t, c, "alice.node-1", before, after)
	assert.False(t, c.IsCA)
	assert.Equal(t, x509.KeyUsageKeyEncipherment|x509.KeyUsageDigitalSignature|x509.KeyUsageKeyAgreement, c.KeyUsage)
	assert.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, c.ExtKeyUsage)
	assert.Equal(t, []string{"node-1", "localhost", "docker.example.test"}, c.DNSNames)
	var ips []string
	for _, ip := range c.IPAddresses {
		ips = append(ips, ip.String())
	}
	assert.Equal(t, []string{"10.0.0.7", "172.17.0.2", "127.0.0.1", "::1"}, ips)
	assertRSAKeyFile(t, keyPath, c)
	assertMode(t, certPath, 0o644)
	assertMode(t, keyPath, 0o600)

	for _, h := range hosts {
		_, err := c.Verify(x509.VerifyOptions{Roots: ca.pool(t), DNSName: h, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		assert.NoError(t, err, "host %s", h)
	}
	_, err := c.Verify(x509.VerifyOptions{Roots: ca.pool(t), DNSName: "10.0.0.8"})
	assert.Error(t, err, "an address not listed must not verify")
	_, err = c.Verify(x509.VerifyOptions{Roots: ca.pool(t), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	assert.Error(t, err, "without ClientAuth the server certificate must not authenticate clients")
}

func TestGenerateServerCertClientAuthForSwarmMaster(t *testing.T) {
	ca := newTestCA(t, "alice")
	certPath, _ := ca.issueServer(t, "server", ServerCertOptions{Org: "alice.master", Hosts: []string{"10.0.0.7"}, ClientAuth: true})
	c := mustReadCert(t, certPath)
	assert.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, c.ExtKeyUsage)
	_, err := c.Verify(x509.VerifyOptions{Roots: ca.pool(t), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	assert.NoError(t, err)
}

func TestGenerateRejectsBadInput(t *testing.T) {
	ca := newTestCA(t, "alice")
	other := newTestCA(t, "mallory")
	out := filepath.Join(ca.dir, "out.pem")
	outKey := filepath.Join(ca.dir, "out-key.pem")

	err := GenerateServerCert(ca.cert, ca.key, out, outKey, ServerCertOptions{Org: "alice.m", Hosts: []string{"", " "}})
	assert.ErrorContains(t, err, "no host names or addresses")
	assert.Error(t, GenerateServerCert(ca.cert, ca.key, out, outKey, ServerCertOptions{Hosts: []string{"h"}}))
	assert.Error(t, GenerateCA(out, outKey, ""))
	assert.Error(t, GenerateClientCert(ca.cert, ca.key, out, outKey, ""))

	err = GenerateClientCert(ca.cert, other.key, out, outKey, "alice.<bootstrap>")
	assert.ErrorContains(t, err, "does not belong to")
	err = GenerateClientCert(filepath.Join(ca.dir, "missing.pem"), ca.key, out, outKey, "alice.<bootstrap>")
	assert.ErrorContains(t, err, "missing.pem")

	assert.NoFileExists(t, out)
	assert.NoFileExists(t, outKey)
}

// A replaced key must end up 0600 even if the file it replaces was world-readable.
func TestRegenerateReplacesFilesWithStockModes(t *testing.T) {
	ca := newTestCA(t, "alice")
	certPath, keyPath := filepath.Join(ca.dir, "server.pem"), filepath.Join(ca.dir, "server-key.pem")
	require.NoError(t, os.WriteFile(certPath, []byte("old"), 0o600))
	require.NoError(t, os.WriteFile(keyPath, []byte("old"), 0o644))

	require.NoError(t, GenerateServerCert(ca.cert, ca.key, certPath, keyPath, ServerCertOptions{Org: "alice.m", Hosts: []string{"m"}}))
	assertMode(t, certPath, 0o644)
	assertMode(t, keyPath, 0o600)
	assertRSAKeyFile(t, keyPath, mustReadCert(t, certPath))
}

func TestOpenSSLAcceptsCertificates(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	require.NoError(t, err, "this test needs the openssl command (apt-get install openssl)")

	ca := newTestCA(t, "alice")
	other := newTestCA(t, "mallory")
	clientCert, clientKey := ca.issueClient(t, "cert")
	serverCert, serverKey := ca.issueServer(t, "server", ServerCertOptions{Org: "alice.m", Hosts: []string{"10.0.0.7", "m"}})

	run := func(args ...string) (string, error) {
		out, err := exec.Command(openssl, args...).CombinedOutput()
		return string(out), err
	}
	out, err := run("verify", "-CAfile", ca.cert, "-purpose", "sslclient", clientCert)
	assert.NoError(t, err, out)
	out, err = run("verify", "-CAfile", ca.cert, "-purpose", "sslserver", serverCert)
	assert.NoError(t, err, out)
	out, err = run("verify", "-CAfile", ca.cert, "-purpose", "sslserver", "-verify_ip", "10.0.0.7", serverCert)
	assert.NoError(t, err, out)
	out, err = run("verify", "-CAfile", ca.cert, "-purpose", "sslserver", "-verify_hostname", "m", serverCert)
	assert.NoError(t, err, out)
	for _, k := range []string{ca.key, clientKey, serverKey} {
		out, err = run("rsa", "-check", "-noout", "-in", k)
		assert.NoError(t, err, out)
	}

	// The same commands must be able to fail, or the checks above prove nothing.
	out, err = run("verify", "-CAfile", other.cert, serverCert)
	assert.Error(t, err, "openssl accepted a certificate from another CA: %s", out)
	out, err = run("verify", "-CAfile", ca.cert, "-purpose", "sslserver", "-verify_ip", "10.0.0.8", serverCert)
	assert.Error(t, err, "openssl accepted an address the certificate does not cover: %s", out)
}

func TestDefaultOrg(t *testing.T) {
	t.Setenv("USER", "alice")
	t.Setenv("USERNAME", "bob")
	assert.Equal(t, "alice", DefaultOrg())
	t.Setenv("USER", "")
	assert.Equal(t, "bob", DefaultOrg())
	t.Setenv("USERNAME", "")
	assert.Equal(t, "unknown", DefaultOrg())
}

func TestReadCertificateErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := ReadCertificate(filepath.Join(dir, "nope.pem"))
	assert.ErrorIs(t, err, os.ErrNotExist)

	garbage := filepath.Join(dir, "garbage.pem")
	require.NoError(t, os.WriteFile(garbage, []byte("not a certificate"), 0o644))
	_, err = ReadCertificate(garbage)
	assert.ErrorContains(t, err, garbage)

	// A key file is not a certificate, even though it is PEM.
	ca := newTestCA(t, "alice")
	_, err = ReadCertificate(ca.key)
	assert.ErrorContains(t, err, "no PEM CERTIFICATE block")
}

func BenchmarkGenerateServerCert(b *testing.B) {
	ca := newTestCA(b, "bench")
	certPath, keyPath := filepath.Join(ca.dir, "server.pem"), filepath.Join(ca.dir, "server-key.pem")
	opts := ServerCertOptions{Org: "bench.m", Hosts: ServerCertHosts("m", []string{"10.0.0.7", "172.17.0.2"}, nil)}
	for b.Loop() {
		if err := GenerateServerCert(ca.cert, ca.key, certPath, keyPath, opts); err != nil {
			b.Fatal(err)
		}
	}
}
