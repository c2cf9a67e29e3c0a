package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"
)

const (
	// renewBefore treats a certificate this close to expiry as stale, so it is re-issued
	// before clients start failing.
	renewBefore = 7 * 24 * time.Hour
	// checkTimeout is docker-machine's TLS check timeout, used when ctx has no deadline.
	checkTimeout = 20 * time.Second
	timeLayout   = "2006-01-02 15:04:05 MST"
)

// StaleCertError says a machine's server certificate must be issued again, and why.
// Path is the certificate file, or the daemon address when the problem was found by
// CheckConnection. The CLI answers this error by regenerating the certificate.
type StaleCertError struct {
	Path    string
	Reasons []string
	// cause is the TLS or x509 error behind it, if any.
	cause error
}

func (e *StaleCertError) Error() string {
	return fmt.Sprintf("server certificate %s needs to be regenerated: %s", e.Path, strings.Join(e.Reasons, "; "))
}

// Unwrap exposes the underlying x509/TLS error, e.g. for errors.As(err, &x509.HostnameError{}).
func (e *StaleCertError) Unwrap() error { return e.cause }

// CheckServerCert returns nil when the server certificate chains to the CA, is valid at
// now with at least 7 days left, may be used for server authentication, and covers every
// host. Otherwise it returns a *StaleCertError listing every problem. Errors reading the
// CA are plain errors: regenerating the server certificate would not fix them.
func CheckServerCert(caCertPath, serverCertPath string, hosts []string, now time.Time) error {
	ca, err := ReadCertificate(caCertPath)
	if err != nil {
		return fmt.Errorf("checking server certificate %s: cannot load the CA: %w", serverCertPath, err)
	}
	data, err := os.ReadFile(serverCertPath)
	if errors.Is(err, fs.ErrNotExist) {
		return &StaleCertError{Path: serverCertPath, Reasons: []string{"it does not exist"}, cause: err}
	}
	if err != nil {
		return fmt.Errorf("checking server certificate: %w", err)
	}
	cert, err := parseCertificatePEM(serverCertPath, data)
	if err != nil {
		return &StaleCertError{Path: serverCertPath, Reasons: []string{"it cannot be parsed"}, cause: err}
	}

	var reasons []string
	if err := cert.CheckSignatureFrom(ca); err != nil {
		reasons = append(reasons, "not signed by the CA in "+caCertPath)
	}
	switch {
	case now.Before(cert.NotBefore):
		reasons = append(reasons, "not valid until "+cert.NotBefore.UTC().Format(timeLayout))
	case now.After(cert.NotAfter):
		reasons = append(reasons, "expired on "+cert.NotAfter.UTC().Format(timeLayout))
	case cert.NotAfter.Sub(now) < renewBefore:
		reasons = append(reasons, "expires on "+cert.NotAfter.UTC().Format(timeLayout)+" (less than 7 days left)")
	}
	// A certificate without ExtKeyUsage may serve any purpose; one with a list must name ServerAuth.
	if len(cert.ExtKeyUsage) > 0 &&
		!slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageServerAuth) &&
		!slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageAny) {
		reasons = append(reasons, "not valid for server authentication")
	}
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if err := cert.VerifyHostname(h); err != nil {
			reasons = append(reasons, "does not cover "+h)
		}
	}
	if len(reasons) > 0 {
		return &StaleCertError{Path: serverCertPath, Reasons: reasons}
	}
	return nil
}

// ClientTLSConfig is the configuration the docker CLI builds from DOCKER_CERT_PATH:
// trust only the machine CA and present the client certificate.
func ClientTLSConfig(caCertPath, certPath, keyPath string) (*tls.Config, error) {
	caPEM, err := os.ReadFile(caCertPath)
	if err != nil {
		return nil, fmt.Errorf("reading the CA certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("%s holds no usable CA certificate; check the --tls-ca-cert setting", caCertPath)
	}
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, fmt.Errorf("loading client certificate %s with key %s: %w", certPath, keyPath, err)
	}
	return &tls.Config{
		RootCAs:      pool,
		Certificates: []tls.Certificate{pair},
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// CheckConnection does a TLS handshake with the Docker daemon at addr (host:port) using
// the client certificate, verifying the daemon's certificate against the CA and the
// host part of addr. Without a ctx deadline it gives up after 20 s. Certificate problems
// on either side come back wrapping a *StaleCertError; a failure to connect is a plain
// error naming addr.
func CheckConnection(ctx context.Context, addr string, caCertPath, certPath, keyPath string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("checking TLS connection: %q is not a host:port address: %w", addr, err)
	}
	cfg, err := ClientTLSConfig(caCertPath, certPath, keyPath)
	if err != nil {
		return fmt.Errorf("checking TLS connection to %s: %w", addr, err)
	}
	cfg.ServerName = host
	// In TLS 1.3 the client's handshake finishes before the server has judged the client
	// certificate, so a rejected client would look fine here. TLS 1.2, which every Docker
	// daemon accepts, reports the rejection during the handshake.
	cfg.MaxVersion = tls.VersionTLS12
	// crypto/tls silently sends no certificate when the daemon's list of trusted CAs lacks
	// ours, and the daemon then answers with a bare "handshake failure". Send it anyway so
	// the daemon judges the real certificate, and remember that it did not list our CA.
	pair := cfg.Certificates[0]
	cfg.Certificates = nil
	var untrustedClient error
	cfg.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		untrustedClient = cri.SupportsCertificate(&pair)
		return &pair, nil
	}

	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, checkTimeout)
		defer cancel()
	}
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot reach the Docker daemon at %s: %w; check that the machine is running and the port is open", addr, err)
	}
	conn := tls.Client(raw, cfg)
	defer conn.Close()
	if err := conn.HandshakeContext(ctx); err != nil {
		if stale := staleFromHandshake(addr, host, caCertPath, certPath, err, untrustedClient != nil); stale != nil {
			return fmt.Errorf("checking TLS connection to %s: %w", addr, stale)
		}
		return fmt.Errorf("TLS handshake with the Docker daemon at %s failed: %w", addr, err)
	}
	return nil
}

// staleFromHandshake recognises handshake failures that a new server certificate (and
// the current CA on the host) would fix.
func staleFromHandshake(addr, host, caCertPath, certPath string, err error, clientCANotListed bool) *StaleCertError {
	var hostErr x509.HostnameError
	if errors.As(err, &hostErr) {
		return &StaleCertError{Path: addr, Reasons: []string{fmt.Sprintf("does not cover %s (%v)", host, hostErr)}, cause: err}
	}
	var authErr x509.UnknownAuthorityError
	if errors.As(err, &authErr) {
		return &StaleCertError{Path: addr, Reasons: []string{"not signed by the CA in " + caCertPath}, cause: err}
	}
	var invalidErr x509.CertificateInvalidError
	if errors.As(err, &invalidErr) {
		return &StaleCertError{Path: addr, Reasons: []string{invalidErr.Error()}, cause: err}
	}
	if code, ok := remoteAlert(err); ok && (certificateAlerts[code] || clientCANotListed) {
		return &StaleCertError{Path: addr, Reasons: []string{fmt.Sprintf(
			"the daemon rejected the client certificate %s (%v); it trusts a different CA", certPath, err)}, cause: err}
	}
	return nil
}

// TLS alert codes (RFC 8446 section 6) a server sends when it refuses a client certificate.
var certificateAlerts = map[uint8]bool{
	42:  true, // bad_certificate
	43:  true, // unsupported_certificate
	45:  true, // certificate_expired
	46:  true, // certificate_unknown
	48:  true, // unknown_ca
	116: true, // certificate_required
}

// remoteAlert extracts the alert a peer sent. crypto/tls reports it as a net.OpError
// "remote error" around an unexported uint8 type, so the code is read by kind.
func remoteAlert(err error) (uint8, bool) {
	var alertErr tls.AlertError
	if errors.As(err, &alertErr) {
		return uint8(alertErr), true
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) || opErr.Op != "remote error" || opErr.Err == nil {
		return 0, false
	}
	v := reflect.ValueOf(opErr.Err)
	if v.Kind() != reflect.Uint8 {
		return 0, false
	}
	return uint8(v.Uint()), true
}
