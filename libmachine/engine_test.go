package libmachine

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/docker/machine/libmachine/drivers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/certs"
	"github.com/fleetdock/machine/libmachine/capability"
	"github.com/fleetdock/machine/libmachine/host"
	"github.com/fleetdock/machine/libmachine/hostopts"
)

// addrDriver reports fixed addresses; the embedded nil Driver panics on
// anything else, which these tests must not need.
type addrDriver struct {
	drivers.Driver `json:"-"`
	IP             string
	URL            string
}

func (d *addrDriver) GetIP() (string, error)  { return d.IP, nil }
func (d *addrDriver) GetURL() (string, error) { return d.URL, nil }

// addressedDriver also knows all its addresses.
type addressedDriver struct {
	addrDriver
	addrs capability.Addresses
}

func (d *addressedDriver) Addresses(context.Context) (capability.Addresses, error) {
	return d.addrs, nil
}

func TestSwarmAddressPrefersThePrivateAddress(t *testing.T) {
	c := New(t.TempDir(), nil, nil)
	cases := []struct {
		name   string
		driver drivers.Driver
		want   string
	}{
		{"public then private", &addressedDriver{addrs: capability.Addresses{Public: []string{"47.1.2.3"}, Private: []string{"10.0.0.5"}}}, "10.0.0.5"},
		{"last private wins", &addressedDriver{addrs: capability.Addresses{Public: []string{"47.1.2.3"}, Private: []string{"192.168.1.2", "172.16.0.3"}}}, "172.16.0.3"},
		{"a private address among the public ones", &addressedDriver{addrs: capability.Addresses{Public: []string{"10.0.0.5", "47.1.2.3"}}}, "10.0.0.5"},
		{"no private: the last one", &addressedDriver{addrs: capability.Addresses{Public: []string{"47.1.2.3", "47.1.2.4"}}}, "47.1.2.4"},
		{"IPv6 only", &addressedDriver{addrs: capability.Addresses{IPv6: []string{"2001:db8::5"}}}, "2001:db8::5"},
		{"plain IP", &addrDriver{IP: "172.17.0.4"}, "172.17.0.4"},
		{"none driver's host:port", &addrDriver{IP: "127.0.0.11:2376"}, "127.0.0.11"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.SwarmAddress(t.Context(), &host.Host{Name: "m1", Driver: tc.driver})
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}

	_, err := c.SwarmAddress(t.Context(), &host.Host{Name: "m1", Driver: &addrDriver{}})
	assert.ErrorContains(t, err, `machine "m1" reports no IP address`)
}

func TestSwarmMemberUsesTheMachinesCertificatesAndDockerURL(t *testing.T) {
	dir := t.TempDir()
	p := certs.BootstrapPaths{
		CACert: filepath.Join(dir, "ca.pem"), CAKey: filepath.Join(dir, "ca-key.pem"),
		ClientCert: filepath.Join(dir, "cert.pem"), ClientKey: filepath.Join(dir, "key.pem"),
	}
	_, err := certs.Bootstrap(p, "test")
	require.NoError(t, err)
	h := &host.Host{
		Name:   "m1",
		Driver: &addrDriver{IP: "10.0.0.7", URL: "tcp://10.0.0.7:2376"},
		HostOptions: &host.Options{AuthOptions: &hostopts.Auth{
			CaCertPath: p.CACert, ClientCertPath: p.ClientCert, ClientKeyPath: p.ClientKey,
		}},
	}
	c := New(t.TempDir(), nil, nil)
	m, err := c.SwarmMember(t.Context(), h, "")
	require.NoError(t, err)
	assert.Equal(t, "m1", m.Name)
	assert.Equal(t, "10.0.0.7", m.AdvertiseAddr)
	assert.Equal(t, "m1", m.Engine.Name)
	assert.Equal(t, "10.0.0.7:2376", m.Engine.Addr())

	m, err = c.SwarmMember(t.Context(), h, "192.168.5.5")
	require.NoError(t, err)
	assert.Equal(t, "192.168.5.5", m.AdvertiseAddr, "an explicit address wins")

	cfg, err := EngineTLSConfig(h)
	require.NoError(t, err)
	assert.Len(t, cfg.Certificates, 1)
	assert.NotNil(t, cfg.RootCAs)

	h.HostOptions.AuthOptions.ClientKeyPath = filepath.Join(dir, "missing.pem")
	_, err = c.Engine(h)
	assert.ErrorContains(t, err, `loading the TLS certificates for "m1"`)
	h.HostOptions = nil
	_, err = c.Engine(h)
	assert.ErrorContains(t, err, "regenerate-certs m1")
}
