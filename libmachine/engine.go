package libmachine

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/fleetdock/machine/certs"
	"github.com/fleetdock/machine/libmachine/host"
	"github.com/fleetdock/machine/libmachine/plugin"
	"github.com/fleetdock/machine/libmachine/swarm"
)

// EngineTLSConfig is the client TLS configuration for the machine's Docker
// API: trust the machine CA, present the client certificate.
func EngineTLSConfig(h *host.Host) (*tls.Config, error) {
	if h.HostOptions == nil || h.HostOptions.AuthOptions == nil {
		return nil, fmt.Errorf("machine %q has no TLS settings in its config.json; recreate it or run `docker-machine regenerate-certs %s`", h.Name, h.Name)
	}
	a := h.HostOptions.AuthOptions
	cfg, err := certs.ClientTLSConfig(a.CaCertPath, a.ClientCertPath, a.ClientKeyPath)
	if err != nil {
		return nil, fmt.Errorf("loading the TLS certificates for %q: %w", h.Name, err)
	}
	return cfg, nil
}

// Engine returns a client for the machine's Docker Engine API over TLS.
func (c *Client) Engine(h *host.Host) (*swarm.Engine, error) {
	_, addr, err := dockerAddr(h)
	if err != nil {
		return nil, err
	}
	cfg, err := EngineTLSConfig(h)
	if err != nil {
		return nil, err
	}
	e := swarm.NewEngine(addr, cfg)
	e.Name = h.Name
	e.Log = c.Log
	return e, nil
}

// SwarmAddress is the address a machine advertises to the other nodes of
// a swarm: its private address when one is known, because the nodes of a
// cluster talk over the private network. The rule:
//  1. drivers with GetAddresses (public first, private last): the last
//     private address (RFC 1918, RFC 4193), else the last address;
//  2. drivers whose state records a PrivateIPAddress (aliyunecs and
//     amazonec2, also when they run as plugins): that address;
//  3. otherwise the driver's IP.
//
// A host name is resolved to its first IPv4 address, because the swarm
// takes only IPs.
func (c *Client) SwarmAddress(ctx context.Context, h *host.Host) (string, error) {
	var addrs []string
	if _, ok := plugin.Unwrap(h.Driver).(Addresser); ok {
		a, err := c.Addresses(h)
		if err != nil {
			return "", err
		}
		addrs = slices.Clone(a)
	} else if private := privateIPFromState(h); private != "" {
		addrs = []string{private}
	} else {
		ip, err := h.Driver.GetIP()
		if err != nil {
			return "", fmt.Errorf("getting the IP address of %q: %w", h.Name, err)
		}
		addrs = []string{ip}
	}
	// The none driver reports host:port (as stock does); only the host counts.
	for i, a := range addrs {
		if hst, _, err := net.SplitHostPort(a); err == nil {
			addrs[i] = hst
		}
	}
	addrs = slices.DeleteFunc(addrs, func(a string) bool { return a == "" })
	if len(addrs) == 0 {
		return "", fmt.Errorf("machine %q reports no IP address; check it runs with `docker-machine status %s`", h.Name, h.Name)
	}
	pick := addrs[len(addrs)-1]
	for i := len(addrs) - 1; i >= 0; i-- {
		if ip, err := netip.ParseAddr(addrs[i]); err == nil && ip.IsPrivate() {
			pick = addrs[i]
			break
		}
	}
	if _, err := netip.ParseAddr(pick); err == nil {
		return pick, nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", pick)
	if err == nil && len(ips) == 0 {
		err = errors.New("no address found")
	}
	if err != nil {
		return "", fmt.Errorf("resolving the address %q of %q for the swarm: %w; give an IP with --advertise-addr", pick, h.Name, err)
	}
	for _, ip := range ips {
		if ip.Unmap().Is4() {
			return ip.Unmap().String(), nil
		}
	}
	return ips[0].String(), nil
}

// privateIPFromState reads the PrivateIPAddress a cloud driver keeps in its
// JSON state; plugins reach libmachine as that JSON too.
func privateIPFromState(h *host.Host) string {
	raw, err := json.Marshal(h.Driver)
	if err != nil {
		return ""
	}
	var v struct{ PrivateIPAddress string }
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	return v.PrivateIPAddress
}

// SwarmMember describes the machine for the swarm package: its name, its
// Engine API client and the address it advertises (advertiseAddr when
// given, else SwarmAddress).
func (c *Client) SwarmMember(ctx context.Context, h *host.Host, advertiseAddr string) (swarm.Member, error) {
	e, err := c.Engine(h)
	if err != nil {
		return swarm.Member{}, err
	}
	if advertiseAddr == "" {
		advertiseAddr, err = c.SwarmAddress(ctx, h)
		if err != nil {
			return swarm.Member{}, err
		}
	}
	return swarm.Member{Name: h.Name, Engine: e, AdvertiseAddr: advertiseAddr}, nil
}
