package libmachine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/fleetdock/machine/certs"
	"github.com/fleetdock/machine/libmachine/host"
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
// cluster talk over the private network. The rule: the last private
// (RFC 1918, RFC 4193) address the driver reports, else its last address.
// A host name is resolved to its first IPv4 address, because the swarm
// takes only IPs.
func (c *Client) SwarmAddress(ctx context.Context, h *host.Host) (string, error) {
	addrs, err := c.Addresses(ctx, h)
	if err != nil {
		return "", err
	}
	// The none driver reports host:port (as stock does); only the host counts.
	for _, list := range [][]string{addrs.Public, addrs.IPv6, addrs.Private} {
		for i, a := range list {
			if hst, _, err := net.SplitHostPort(a); err == nil {
				list[i] = hst
			}
		}
	}
	pick := addrs.PrivateOrLast()
	if pick == "" {
		return "", fmt.Errorf("machine %q reports no IP address; check it runs with `docker-machine status %s`", h.Name, h.Name)
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
