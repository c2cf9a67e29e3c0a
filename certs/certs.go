// Package certs creates, checks and regenerates the TLS material docker-machine uses:
// a local CA, a client certificate for the docker CLI, and one server certificate per
// machine. Files use the same formats, names and modes as docker-machine 0.16.2, so a
// store written by either CLI works with the other.
package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const (
	keyBits = 2048
	// validity matches docker-machine 0.16.2: 1080 days from NotBefore.
	validity = 1080 * 24 * time.Hour
	// backdate absorbs small clock differences between this machine and the hosts.
	backdate = 5 * time.Minute

	certFileMode os.FileMode = 0o644
	keyFileMode  os.FileMode = 0o600
	dirMode      os.FileMode = 0o700
)

// DefaultOrg is the organisation docker-machine puts in its CA: the user name from
// $USER, else $USERNAME (Windows), else "unknown".
func DefaultOrg() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	if u := os.Getenv("USERNAME"); u != "" {
		return u
	}
	return "unknown"
}

// validityWindow says when a new certificate starts and ends.
type validityWindow struct {
	notBefore time.Time
	notAfter  time.Time
}

// defaultWindow is the stock window: now-5min truncated to the minute, plus 1080 days.
func defaultWindow() validityWindow {
	nb := time.Now().Add(-backdate).Truncate(time.Minute)
	return validityWindow{notBefore: nb, notAfter: nb.Add(validity)}
}

// GenerateCA creates a self-signed CA certificate (certPath, 0644) and its RSA key
// (keyPath, 0600). Existing files are replaced; callers that must not lose a CA key
// use Bootstrap, which refuses to.
func GenerateCA(certPath, keyPath, org string) error {
	return generateCA(certPath, keyPath, org, defaultWindow())
}

func generateCA(certPath, keyPath, org string, w validityWindow) error {
	if org == "" {
		return errors.New("cannot create a certificate authority with an empty organisation name")
	}
	tmpl, err := baseTemplate(org, w)
	if err != nil {
		return err
	}
	tmpl.IsCA = true
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment |
		x509.KeyUsageKeyAgreement | x509.KeyUsageCertSign

	key, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return fmt.Errorf("generating the certificate authority key: %w", err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return fmt.Errorf("signing the certificate authority %s: %w", certPath, err)
	}
	return writePair(certPath, keyPath, der, key)
}

// GenerateClientCert creates a client certificate (ExtKeyUsage ClientAuth) signed by the
// CA in caCertPath/caKeyPath. org is docker-machine's "$USER.<bootstrap>" style name.
func GenerateClientCert(caCertPath, caKeyPath, certPath, keyPath, org string) error {
	return generateClientCert(caCertPath, caKeyPath, certPath, keyPath, org, defaultWindow())
}

func generateClientCert(caCertPath, caKeyPath, certPath, keyPath, org string, w validityWindow) error {
	if org == "" {
		return errors.New("cannot create a client certificate with an empty organisation name")
	}
	tmpl, err := baseTemplate(org, w)
	if err != nil {
		return err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	return issue(caCertPath, caKeyPath, certPath, keyPath, tmpl)
}

// ServerCertOptions describes a Docker daemon's certificate.
type ServerCertOptions struct {
	// Org is the subject organisation, "$USER.<machinename>" in docker-machine.
	Org string
	// Hosts are the names and addresses clients may use; IPs become IP SANs, the rest DNS SANs.
	Hosts []string
	// ClientAuth adds ExtKeyUsage ClientAuth, which a legacy swarm master needs to talk to agents.
	ClientAuth bool
}

// GenerateServerCert creates a server certificate for a Docker daemon, signed by the CA.
func GenerateServerCert(caCertPath, caKeyPath, certPath, keyPath string, opts ServerCertOptions) error {
	return generateServerCert(caCertPath, caKeyPath, certPath, keyPath, opts, defaultWindow())
}

func generateServerCert(caCertPath, caKeyPath, certPath, keyPath string, opts ServerCertOptions, w validityWindow) error {
	if opts.Org == "" {
		return errors.New("cannot create a server certificate with an empty organisation name")
	}
	tmpl, err := baseTemplate(opts.Org, w)
	if err != nil {
		return err
	}
	tmpl.KeyUsage = x509.KeyUsageKeyEncipherment | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	if opts.ClientAuth {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	for _, h := range opts.Hosts {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	if len(tmpl.IPAddresses) == 0 && len(tmpl.DNSNames) == 0 {
		return fmt.Errorf("cannot create server certificate %s: no host names or addresses given", certPath)
	}
	return issue(caCertPath, caKeyPath, certPath, keyPath, tmpl)
}

// ReadCertificate reads the first CERTIFICATE block of a PEM file.
func ReadCertificate(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading certificate: %w", err)
	}
	return parseCertificatePEM(path, data)
}

func parseCertificatePEM(path string, data []byte) (*x509.Certificate, error) {
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("%s holds no PEM CERTIFICATE block; replace it with a valid certificate or delete it so it is created again", path)
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing certificate %s: %w", path, err)
		}
		return cert, nil
	}
}

// readPrivateKey reads the key docker-machine writes (PKCS#1) and, for keys a user brings
// with --tls-ca-key, also PKCS#8 and SEC 1 EC keys.
func readPrivateKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading private key: %w", err)
	}
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("%s holds no PEM private key", path)
		}
		switch block.Type {
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parsing private key %s: %w", path, err)
			}
			return k, nil
		case "EC PRIVATE KEY":
			k, err := x509.ParseECPrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parsing private key %s: %w", path, err)
			}
			return k, nil
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parsing private key %s: %w", path, err)
			}
			s, ok := k.(crypto.Signer)
			if !ok {
				return nil, fmt.Errorf("private key %s is of an unsupported type %T", path, k)
			}
			return s, nil
		}
	}
}

// keyMatches reports whether key is the private half of cert's public key.
func keyMatches(cert *x509.Certificate, key crypto.Signer) bool {
	switch pub := key.Public().(type) {
	case *rsa.PublicKey:
		return pub.Equal(cert.PublicKey)
	case *ecdsa.PublicKey:
		return pub.Equal(cert.PublicKey)
	default:
		return false
	}
}

func baseTemplate(org string, w validityWindow) (*x509.Certificate, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{org}},
		NotBefore:             w.notBefore,
		NotAfter:              w.notAfter,
		BasicConstraintsValid: true,
	}, nil
}

// randomSerial returns a positive random serial below 2^128.
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("generating a certificate serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// issue signs tmpl with the CA and writes the new certificate and a fresh key.
func issue(caCertPath, caKeyPath, certPath, keyPath string, tmpl *x509.Certificate) error {
	caCert, err := ReadCertificate(caCertPath)
	if err != nil {
		return fmt.Errorf("loading the certificate authority: %w", err)
	}
	caKey, err := readPrivateKey(caKeyPath)
	if err != nil {
		return fmt.Errorf("loading the certificate authority: %w", err)
	}
	if !keyMatches(caCert, caKey) {
		return fmt.Errorf("the certificate authority key %s does not belong to %s; point both settings at the same CA", caKeyPath, caCertPath)
	}
	key, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return fmt.Errorf("generating a key for %s: %w", certPath, err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
	if err != nil {
		return fmt.Errorf("signing %s with the CA in %s: %w", certPath, caCertPath, err)
	}
	return writePair(certPath, keyPath, der, key)
}

// writePair stages both files before renaming either, so a failure while writing
// never leaves a new certificate next to an old key.
func writePair(certPath, keyPath string, certDER []byte, key *rsa.PrivateKey) error {
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})

	keyTmp, err := stageFile(keyPath, keyPEM, keyFileMode)
	if err != nil {
		return err
	}
	certTmp, err := stageFile(certPath, certPEM, certFileMode)
	if err != nil {
		_ = os.Remove(keyTmp)
		return err
	}
	if err := commitFile(keyTmp, keyPath); err != nil {
		_ = os.Remove(certTmp)
		return err
	}
	return commitFile(certTmp, certPath)
}

// stageFile writes data to a synced temp file next to path and returns its name;
// commitFile then renames it into place, so readers see the old file or the new one.
func stageFile(path string, data []byte, mode os.FileMode) (string, error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	name := f.Name()
	fail := func(err error) (string, error) {
		_ = f.Close()
		_ = os.Remove(name)
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	// Chmod explicitly: the result must not depend on the umask.
	if err := f.Chmod(mode); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(name)
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return name, nil
}

func commitFile(tmp, path string) error {
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	syncDir(filepath.Dir(path))
	return nil
}

// syncDir makes the rename durable. Some platforms cannot fsync a directory; the
// rename itself already happened, so that is not an error worth failing for.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
