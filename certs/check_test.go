package certs

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckServerCert(t *testing.T) {
	ca := newTestCA(t, "alice")
	other := newTestCA(t, "mallory")
	hosts := []string{"10.0.0.7", "node-1", "localhost", "127.0.0.1"}
	good, _ := ca.issueServer(t, "server", ServerCertOptions{Org: "alice.node-1", Hosts: hosts})
	goodCert := mustReadCert(t, good)
	inValidity := goodCert.NotBefore.Add(time.Hour)

	foreign, _ := other.issueServer(t, "server", ServerCertOptions{Org: "mallory.node-1", Hosts: hosts})
	client, _ := ca.issueClient(t, "client")
	garbage := filepath.Join(ca.dir, "garbage.pem")
	require.NoError(t, os.WriteFile(garbage, []byte("garbage"), 0o644))

	t.Run("valid", func(t *testing.T) {
		assert.NoError(t, CheckServerCert(ca.cert, good, hosts, inValidity))
		assert.NoError(t, CheckServerCert(ca.cert, good, []string{"", "NODE-1"}, inValidity))
		assert.NoError(t, CheckServerCert(ca.cert, good, hosts, goodCert.NotAfter.Add(-8*24*time.Hour)),
			"8 days left is still fine")
	})

	cases := []struct {
		name      string
		cert      string
		hosts     []string
		now       time.Time
		want      []string
		wantPlain bool
	}{
		{name: "new address", cert: good, hosts: []string{"10.0.0.7", "10.0.0.8", "node-2"}, now: inValidity,
			want: []string{"does not cover 10.0.0.8", "does not cover node-2"}},
		{name: "other CA", cert: foreign, hosts: hosts, now: inValidity,
			want: []string{"not signed by the CA in " + ca.cert}},
		{name: "expired", cert: good, hosts: hosts, now: goodCert.NotAfter.Add(time.Minute),
			want: []string{"expired on " + goodCert.NotAfter.UTC().Format(timeLayout)}},
		{name: "expires within a week", cert: good, hosts: hosts, now: goodCert.NotAfter.Add(-6 * 24 * time.Hour),
			want: []string{"expires on " + goodCert.NotAfter.UTC().Format(timeLayout) + " (less than 7 days left)"}},
		{name: "not yet valid", cert: good, hosts: hosts, now: goodCert.NotBefore.Add(-time.Hour),
			want: []string{"not valid until " + goodCert.NotBefore.UTC().Format(timeLayout)}},
		{name: "client certificate", cert: client, hosts: nil, now: inValidity,
			want: []string{"not valid for server authentication"}},
		{name: "missing", cert: filepath.Join(ca.dir, "absent.pem"), hosts: hosts, now: inValidity,
			want: []string{"it does not exist"}},
		{name: "corrupt", cert: garbage, hosts: hosts, now: inValidity,
			want: []string{"it cannot be parsed"}},
		{name: "everything at once", cert: foreign, hosts: []string{"10.0.0.9"}, now: goodCert.NotAfter.Add(time.Hour),
			want: []string{"not signed by the CA in " + ca.cert, "expired on " + goodCert.NotAfter.UTC().Format(timeLayout), "does not cover 10.0.0.9"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckServerCert(ca.cert, tc.cert, tc.hosts, tc.now)
			var stale *StaleCertError
			require.ErrorAs(t, err, &stale)
			assert.Equal(t, tc.cert, stale.Path)
			assert.Equal(t, tc.want, stale.Reasons)
		})
	}

	t.Run("message", func(t *testing.T) {
		err := CheckServerCert(ca.cert, good, []string{"10.0.0.8", "node-2"}, inValidity)
		assert.EqualError(t, err, "server certificate "+good+" needs to be regenerated: does not cover 10.0.0.8; does not cover node-2")
	})

	t.Run("unreadable CA is not a stale server certificate", func(t *testing.T) {
		err := CheckServerCert(filepath.Join(ca.dir, "no-ca.pem"), good, hosts, inValidity)
		require.Error(t, err)
		var stale *StaleCertError
		assert.False(t, errors.As(err, &stale))
		assert.ErrorContains(t, err, "no-ca.pem")
	})
}

// tlsServer is a TLS listener on loopback that, like dockerd with --tlsverify, requires
// a client certificate from clientCA. Each connection's server-side handshake result is
// sent on results; a successful connection is answered with "ok\n".
type tlsServer struct {
	addr    string
	results chan error
}

func startTLSServer(t *testing.T, certPath, keyPath, clientCAPath string) *tlsServer {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	require.NoError(t, err)
	pem, err := os.ReadFile(clientCAPath)
	require.NoError(t, err)
	clientCAs := x509.NewCertPool()
	require.True(t, clientCAs.AppendCertsFromPEM(pem))
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{pair},
		ClientCAs:    clientCAs,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })

	s := &tlsServer{addr: ln.Addr().String(), results: make(chan error, 16)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				// Guards against a stuck peer hanging the test; not a measurement.
				_ = c.SetDeadline(time.Now().Add(30 * time.Second))
				err := c.(*tls.Conn).Handshake()
				if err == nil {
					_, err = c.Write([]byte("ok\n"))
				}
				s.results <- err
			}()
		}
	}()
	return s
}

func (s *tlsServer) result(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.results:
		return err
	case <-time.After(30 * time.Second):
		require.FailNow(t, "the TLS server never finished a handshake")
		return nil
	}
}

func TestTLSServerAcceptsOnlyTheClientCert(t *testing.T) {
	ca := newTestCA(t, "alice")
	serverCert, serverKey := ca.issueServer(t, "server", ServerCertOptions{Org: "alice.m", Hosts: ServerCertHosts("m", nil, nil)})
	clientCert, clientKey := ca.issueClient(t, "client")
	srv := startTLSServer(t, serverCert, serverKey, ca.cert)

	t.Run("with the client certificate", func(t *testing.T) {
		cfg, err := ClientTLSConfig(ca.cert, clientCert, clientKey)
		require.NoError(t, err)
		cfg.ServerName = "127.0.0.1"
		conn, err := tls.Dial("tcp", srv.addr, cfg)
		require.NoError(t, err)
		defer conn.Close()
		require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
		line, err := bufio.NewReader(conn).ReadString('\n')
		require.NoError(t, err)
		assert.Equal(t, "ok\n", line)
		assert.NoError(t, srv.result(t))
	})

	t.Run("without a client certificate", func(t *testing.T) {
		conn, err := tls.Dial("tcp", srv.addr, &tls.Config{RootCAs: ca.pool(t), ServerName: "127.0.0.1"})
		if err == nil {
			// With TLS 1.3 the refusal arrives after the client's side of the handshake.
			defer conn.Close()
			require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
			_, err = bufio.NewReader(conn).ReadString('\n')
		}
		assert.ErrorContains(t, err, "certificate required")
		assert.ErrorContains(t, srv.result(t), "didn't provide a certificate")
	})

	t.Run("with a certificate from another CA", func(t *testing.T) {
		other := newTestCA(t, "mallory")
		c, k := other.issueClient(t, "client")
		err := CheckConnection(context.Background(), srv.addr, ca.cert, c, k)
		var stale *StaleCertError
		require.ErrorAs(t, err, &stale)
		assert.Contains(t, stale.Reasons[0], "rejected the client certificate "+c)
		assert.ErrorContains(t, srv.result(t), "certificate signed by unknown authority")
	})
}

func TestCheckConnection(t *testing.T) {
	ca := newTestCA(t, "alice")
	clientCert, clientKey := ca.issueClient(t, "client")
	check := func(ctx context.Context, addr string) error {
		return CheckConnection(ctx, addr, ca.cert, clientCert, clientKey)
	}

	t.Run("valid", func(t *testing.T) {
		c, k := ca.issueServer(t, "ok", ServerCertOptions{Org: "alice.m", Hosts: ServerCertHosts("m", []string{"10.0.0.7"}, nil)})
		srv := startTLSServer(t, c, k, ca.cert)
		assert.NoError(t, check(context.Background(), srv.addr))
		assert.NoError(t, srv.result(t))
	})

	t.Run("address not covered", func(t *testing.T) {
		c, k := ca.issueServer(t, "moved", ServerCertOptions{Org: "alice.m", Hosts: []string{"10.0.0.7", "localhost"}})
		srv := startTLSServer(t, c, k, ca.cert)
		err := check(context.Background(), srv.addr)
		var stale *StaleCertError
		require.ErrorAs(t, err, &stale)
		assert.Equal(t, srv.addr, stale.Path)
		require.Len(t, stale.Reasons, 1)
		assert.Contains(t, stale.Reasons[0], "does not cover 127.0.0.1")
		var hostErr x509.HostnameError
		assert.ErrorAs(t, err, &hostErr, "the x509 cause stays reachable")
	})

	t.Run("server signed by another CA", func(t *testing.T) {
		other := newTestCA(t, "mallory")
		c, k := other.issueServer(t, "foreign", ServerCertOptions{Org: "mallory.m", Hosts: []string{"127.0.0.1"}})
		srv := startTLSServer(t, c, k, ca.cert)
		err := check(context.Background(), srv.addr)
		var stale *StaleCertError
		require.ErrorAs(t, err, &stale)
		assert.Equal(t, []string{"not signed by the CA in " + ca.cert}, stale.Reasons)
	})

	t.Run("expired server certificate", func(t *testing.T) {
		c, k := filepath.Join(ca.dir, "old.pem"), filepath.Join(ca.dir, "old-key.pem")
		require.NoError(t, generateServerCert(ca.cert, ca.key, c, k, ServerCertOptions{Org: "alice.m", Hosts: []string{"127.0.0.1"}}, pastWindow()))
		srv := startTLSServer(t, c, k, ca.cert)
		err := check(context.Background(), srv.addr)
		var stale *StaleCertError
		require.ErrorAs(t, err, &stale)
		assert.Contains(t, stale.Reasons[0], "expired")
	})

	t.Run("nothing listening", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())

		err = check(context.Background(), addr)
		require.Error(t, err)
		var stale *StaleCertError
		assert.False(t, errors.As(err, &stale), "a dial failure is not a certificate problem: %v", err)
		assert.ErrorContains(t, err, addr)
		var opErr *net.OpError
		assert.ErrorAs(t, err, &opErr)
	})

	t.Run("server never answers", func(t *testing.T) {
		// Accepts TCP connections and then stays silent, like a hung daemon.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		err = check(ctx, ln.Addr().String())
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		var stale *StaleCertError
		assert.False(t, errors.As(err, &stale))
	})

	t.Run("bad address or files", func(t *testing.T) {
		assert.ErrorContains(t, check(context.Background(), "no-port"), "not a host:port address")
		err := CheckConnection(context.Background(), "127.0.0.1:1", filepath.Join(ca.dir, "nope.pem"), clientCert, clientKey)
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
}

func TestStaleCertErrorFormat(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", &StaleCertError{Path: "/store/machines/m/server.pem", Reasons: []string{"does not cover 10.0.0.7", "expired on 2029-01-01 00:00:00 UTC"}})
	assert.EqualError(t, err, "wrapped: server certificate /store/machines/m/server.pem needs to be regenerated: does not cover 10.0.0.7; expired on 2029-01-01 00:00:00 UTC")
}
