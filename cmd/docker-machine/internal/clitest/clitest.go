// Package clitest is what the tests of the docker-machine commands share: a
// store in a temporary directory, a Factory over buffers, one run of a
// command with the exit status the CLI would give, machines made through
// libmachine without a command, and the TLS settings of a Docker API
// stand-in that trusts the store's CA.
//
// It names no driver: a test registers the built-in drivers it uses.
package clitest

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"path/filepath"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/certs"
	"github.com/fleetdock/machine/cmd/docker-machine/cmdutil"
	"github.com/fleetdock/machine/cmd/docker-machine/iostreams"
	"github.com/fleetdock/machine/libmachine"
)

// NewStore is the path of an empty store, with the environment variables
// that would change the commands' defaults cleared.
func NewStore(t *testing.T) string {
	t.Helper()
	t.Setenv("MACHINE_STORAGE_PATH", "")
	t.Setenv("MACHINE_DRIVER", "")
	t.Setenv("DOCKER_HOST", "")
	t.Setenv("SHELL", "/bin/bash")
	return filepath.Join(t.TempDir(), "machine")
}

// Result is what one run printed and its exit status.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Run builds a command with newCmd from a Factory over store and buffers,
// runs it with args and stdin, and returns what it printed, with the exit
// status and error line the CLI would give.
func Run(t *testing.T, newCmd func(*cmdutil.Factory) *cobra.Command, store, stdin string, args ...string) Result {
	t.Helper()
	ios, out, errOut := iostreams.Test(stdin)
	f := cmdutil.New(ios, &cmdutil.Settings{StoragePath: store, Argv0: "docker-machine"})
	cmd := newCmd(f)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetArgs(args)
	cmd.SetIn(ios.In)
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	code := cmdutil.ExitStatus(cmd.ExecuteContext(t.Context()), errOut)
	return Result{Stdout: out.String(), Stderr: errOut.String(), Code: code}
}

// Runner is Run of newCmd with no input, for a test file's one helper.
func Runner(newCmd func(*cmdutil.Factory) *cobra.Command) func(t *testing.T, store string, args ...string) Result {
	return func(t *testing.T, store string, args ...string) Result {
		t.Helper()
		return Run(t, newCmd, store, "", args...)
	}
}

// client is a client of store that prints nothing.
func client(t *testing.T, store string) *libmachine.Client {
	c := libmachine.New(store, io.Discard, nil)
	t.Cleanup(func() { c.Close() })
	return c
}

// Bootstrap creates the store's CA and client certificate.
func Bootstrap(t *testing.T, store string) {
	t.Helper()
	require.NoError(t, client(t, store).BootstrapCerts(t.Context()))
}

// CreateNone makes a machine of the none driver pointed at url, as
// `create -d none --url URL NAME` does. The test registers "none".
func CreateNone(t *testing.T, store, name, url string) {
	t.Helper()
	c := client(t, store)
	d, err := c.OpenDriver(t.Context(), "none")
	require.NoError(t, err)
	req := libmachine.NewCreateRequest(name, "none")
	req.DriverOptions = libmachine.DriverOptions{"url": url}
	require.NoError(t, c.CreateMachine(t.Context(), d, req), "creating %s", name)
}

// Names lists the store's machines, as `ls -q` would.
func Names(t *testing.T, store string) []string {
	t.Helper()
	names, err := client(t, store).Store.List()
	require.NoError(t, err)
	return names
}

// ServerTLS is the TLS configuration of a Docker daemon on hosts: a server
// certificate signed by the store's CA, and client certificates from that
// CA required, as a provisioned daemon has.
func ServerTLS(t *testing.T, store string, hosts ...string) *tls.Config {
	t.Helper()
	certDir := filepath.Join(store, "certs")
	dir := t.TempDir()
	serverCert, serverKey := filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
	require.NoError(t, certs.GenerateServerCert(filepath.Join(certDir, "ca.pem"), filepath.Join(certDir, "ca-key.pem"), serverCert, serverKey,
		certs.ServerCertOptions{Org: "test.engine", Hosts: hosts}))
	pair, err := tls.LoadX509KeyPair(serverCert, serverKey)
	require.NoError(t, err)
	ca, err := certs.ReadCertificate(filepath.Join(certDir, "ca.pem"))
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
}
