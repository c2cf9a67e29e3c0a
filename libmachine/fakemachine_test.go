package libmachine

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/libmachine/host"
	"github.com/fleetdock/machine/libmachine/ssh"
	"github.com/fleetdock/machine/provision"
)

// fakeMachine is the far side of a fakeDriver: a Docker daemon on loopback
// that does the TLS handshake of a real one (its server certificate, client
// certificates checked against the CA it was given), and a provisioner that
// installs certificates on it as the real one does on a host.
type fakeMachine struct {
	ln net.Listener

	mu         sync.Mutex
	cert       *tls.Certificate
	clientCAs  *x509.CertPool
	provisions int
	// dockerPort is the port the last provisioning told Docker to listen on.
	dockerPort int
	// dialErr and provisionErr make reaching the machine or provisioning it fail.
	dialErr, provisionErr error
	// refuse is how many more connections the daemon drops at once, as a
	// booting host's does before Docker listens; refuseAll drops every one.
	refuse    int
	refuseAll bool
}

func startFakeMachine(t *testing.T) *fakeMachine {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	m := &fakeMachine{ln: ln}
	cfg := &tls.Config{
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			m.mu.Lock()
			defer m.mu.Unlock()
			if m.cert == nil {
				return nil, errors.New("no server certificate installed")
			}
			return &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, Certificates: []tls.Certificate{*m.cert}, ClientCAs: m.clientCAs}, nil
		},
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			if m.dropOne() {
				conn.Close()
				continue
			}
			wg.Go(func() {
				defer conn.Close()
				tc := tls.Server(conn, cfg)
				if tc.Handshake() == nil {
					_, _ = io.Copy(io.Discard, tc) // until the client hangs up
				}
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return m
}

// dropOne reports whether the daemon drops this connection.
func (m *fakeMachine) dropOne() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.refuseAll {
		return true
	}
	if m.refuse > 0 {
		m.refuse--
		return true
	}
	return false
}

// URL is the daemon's Docker URL.
func (m *fakeMachine) URL() string { return "tcp://" + m.ln.Addr().String() }

// install puts a server certificate and the CA trusted for clients on the daemon.
func (m *fakeMachine) install(caPEM, certPEM, keyPEM []byte) error {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return errors.New("the CA certificate holds no certificate")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cert, m.clientCAs = &pair, pool
	return nil
}

func (m *fakeMachine) provisioned() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.provisions
}

// access reaches this machine instead of a host over SSH.
func (m *fakeMachine) access() machineAccess {
	return machineAccess{
		dial: func(context.Context, *host.Host) (machineConn, error) {
			if m.dialErr != nil {
				return nil, m.dialErr
			}
			return noCommands{}, nil
		},
		provision: func(ctx context.Context, _ provision.Commander, o provision.Options) (*provision.Report, error) {
			m.mu.Lock()
			m.provisions++
			m.dockerPort = o.DockerPort
			fail := m.provisionErr
			m.mu.Unlock()
			if fail != nil {
				return nil, fail
			}
			if err := m.install(o.CACert, o.ServerCert, o.ServerKey); err != nil {
				return nil, err
			}
			// The real provisioner ends when the caller's check passes.
			if err := o.CheckDocker(ctx); err != nil {
				return nil, err
			}
			return &provision.Report{}, nil
		},
	}
}

// noCommands is a connection to a fakeMachine, whose provisioner needs none.
type noCommands struct{}

func (noCommands) Run(context.Context, string) (*ssh.Result, error) {
	return nil, errors.New("the fake machine runs no commands")
}

func (noCommands) RunWithInput(context.Context, string, io.Reader) (*ssh.Result, error) {
	return nil, errors.New("the fake machine runs no commands")
}

func (noCommands) Stats() (int, int) { return 1, 0 }
func (noCommands) Close() error      { return nil }
