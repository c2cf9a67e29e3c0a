package certs

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// BootstrapPaths are the local CA and client files (the --tls-* global flags).
type BootstrapPaths struct {
	CACert, CAKey, ClientCert, ClientKey string
}

// Bootstrap makes sure a usable CA and client certificate exist before a machine is
// created, and returns the files it wrote (none when everything was already in order).
//
// The CA (O=org) is created when both of its files are missing, and replaced when it has
// expired. When only one of ca.pem and ca-key.pem exists Bootstrap stops with an error
// instead of guessing: replacing a CA key orphans every machine signed with it.
// The client certificate (O=org+".<bootstrap>", as docker-machine names it) is
// (re)created when it or its key is missing, unreadable or expired, does not match its
// key, or is not signed by the current CA — the last case is one stock docker-machine
// misses, leaving a client the daemons reject after a CA change.
// An empty org means DefaultOrg().
func Bootstrap(p BootstrapPaths, org string) (created []string, err error) {
	if p.CACert == "" || p.CAKey == "" || p.ClientCert == "" || p.ClientKey == "" {
		return nil, errors.New("certificate bootstrap needs the CA certificate, CA key, client certificate and client key paths")
	}
	if org == "" {
		org = DefaultOrg()
	}
	for _, path := range []string{p.CACert, p.CAKey, p.ClientCert, p.ClientKey} {
		dir := filepath.Dir(path)
		if err := os.MkdirAll(dir, dirMode); err != nil {
			return nil, fmt.Errorf("creating certificate directory %s: %w", dir, err)
		}
	}
	now := time.Now()

	caCert, caCreated, err := ensureCA(p, org, now)
	if err != nil {
		return nil, err
	}
	if caCreated {
		created = append(created, p.CACert, p.CAKey)
	}

	problem, err := clientCertProblem(p, caCert, now)
	if err != nil {
		return created, err
	}
	if problem == "" {
		return created, nil
	}
	if err := GenerateClientCert(p.CACert, p.CAKey, p.ClientCert, p.ClientKey, org+".<bootstrap>"); err != nil {
		return created, fmt.Errorf("creating client certificate %s: %w", p.ClientCert, err)
	}
	return append(created, p.ClientCert, p.ClientKey), nil
}

// ensureCA returns the CA certificate in use, creating or replacing it when needed.
func ensureCA(p BootstrapPaths, org string, now time.Time) (*x509.Certificate, bool, error) {
	certOK, err := fileExists(p.CACert)
	if err != nil {
		return nil, false, err
	}
	keyOK, err := fileExists(p.CAKey)
	if err != nil {
		return nil, false, err
	}
	switch {
	case certOK && !keyOK:
		return nil, false, fmt.Errorf("certificate authority is incomplete: %s exists but its key %s is missing; "+
			"restore the key from a backup, or move %s aside to create a new CA "+
			"(existing machines then need 'docker-machine regenerate-certs')", p.CACert, p.CAKey, p.CACert)
	case !certOK && keyOK:
		return nil, false, fmt.Errorf("certificate authority is incomplete: the key %s exists but the certificate %s is missing; "+
			"restore the certificate from a backup, or move %s aside to create a new CA "+
			"(existing machines then need 'docker-machine regenerate-certs')", p.CAKey, p.CACert, p.CAKey)
	case !certOK && !keyOK:
		return createCA(p, org)
	}

	ca, err := ReadCertificate(p.CACert)
	if err != nil {
		return nil, false, fmt.Errorf("the certificate authority cannot be used: %w; restore it from a backup, or move %s and %s aside to create a new CA", err, p.CACert, p.CAKey)
	}
	key, err := readPrivateKey(p.CAKey)
	if err != nil {
		return nil, false, fmt.Errorf("the certificate authority cannot be used: %w; restore it from a backup, or move %s and %s aside to create a new CA", err, p.CACert, p.CAKey)
	}
	if !ca.IsCA || !ca.BasicConstraintsValid {
		return nil, false, fmt.Errorf("%s is not a CA certificate; point the CA settings at a certificate authority, or move %s and %s aside to create a new CA", p.CACert, p.CACert, p.CAKey)
	}
	if !keyMatches(ca, key) {
		return nil, false, fmt.Errorf("the certificate authority key %s does not belong to %s; restore the matching pair, or move both aside to create a new CA", p.CAKey, p.CACert)
	}
	if now.After(ca.NotAfter) {
		// Same as stock: an expired CA is useless, so it is replaced; the machines'
		// server certificates then fail the TLS check and get re-issued.
		return createCA(p, org)
	}
	return ca, false, nil
}

func createCA(p BootstrapPaths, org string) (*x509.Certificate, bool, error) {
	if err := GenerateCA(p.CACert, p.CAKey, org); err != nil {
		return nil, false, fmt.Errorf("creating certificate authority %s: %w", p.CACert, err)
	}
	ca, err := ReadCertificate(p.CACert)
	if err != nil {
		return nil, true, err
	}
	return ca, true, nil
}

// clientCertProblem says why the client certificate must be (re)created, or "" if it is fine.
func clientCertProblem(p BootstrapPaths, ca *x509.Certificate, now time.Time) (string, error) {
	certOK, err := fileExists(p.ClientCert)
	if err != nil {
		return "", err
	}
	keyOK, err := fileExists(p.ClientKey)
	if err != nil {
		return "", err
	}
	switch {
	case !certOK && !keyOK:
		return "missing", nil
	case !certOK:
		return "certificate missing", nil
	case !keyOK:
		return "key missing", nil
	}
	cert, err := ReadCertificate(p.ClientCert)
	if err != nil {
		return fmt.Sprintf("unreadable: %v", err), nil
	}
	key, err := readPrivateKey(p.ClientKey)
	if err != nil {
		return fmt.Sprintf("key unreadable: %v", err), nil
	}
	if now.After(cert.NotAfter) {
		return "expired on " + cert.NotAfter.UTC().Format(time.RFC3339), nil
	}
	if err := cert.CheckSignatureFrom(ca); err != nil {
		return "not signed by the CA in " + p.CACert, nil
	}
	if !keyMatches(cert, key) {
		return "does not match its key " + p.ClientKey, nil
	}
	return "", nil
}

func fileExists(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("checking %s: %w", path, err)
	}
}
