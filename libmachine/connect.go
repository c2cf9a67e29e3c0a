package libmachine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/fleetdock/machine/certs"
	"github.com/fleetdock/machine/libmachine/capability"
	"github.com/fleetdock/machine/libmachine/host"
	"github.com/fleetdock/machine/libmachine/ssh"
	"github.com/fleetdock/machine/provision"
)

// SSHTimeout bounds the wait for a new host's SSH server.
var SSHTimeout = 3 * time.Minute

// SSHConfig describes how to reach the machine over SSH, with its host
// key pinned in the machine directory.
func (c *Client) SSHConfig(h *host.Host) (ssh.Config, error) {
	addr, err := h.Driver.GetSSHHostname()
	if err != nil {
		return ssh.Config{}, fmt.Errorf("getting the SSH address of %q: %w", h.Name, err)
	}
	port, err := h.Driver.GetSSHPort()
	if err != nil {
		return ssh.Config{}, fmt.Errorf("getting the SSH port of %q: %w", h.Name, err)
	}
	cfg := ssh.Config{
		Host:           addr,
		Port:           port,
		User:           h.Driver.GetSSHUsername(),
		UseAgent:       true,
		KnownHostsPath: filepath.Join(c.Store.MachineDir(h.Name), "known_hosts"),
	}
	if key := h.Driver.GetSSHKeyPath(); key != "" {
		if _, err := os.Stat(key); err == nil {
			cfg.KeyPaths = []string{key}
		}
	}
	return cfg, nil
}

// SSH connects to the machine, waiting up to SSHTimeout for its SSH server.
func (c *Client) SSH(ctx context.Context, h *host.Host) (*ssh.Client, error) {
	cfg, err := c.SSHConfig(h)
	if err != nil {
		return nil, err
	}
	client, err := ssh.WaitForSSH(ctx, cfg, SSHTimeout)
	if err != nil {
		return nil, fmt.Errorf("connecting to %q over SSH: %w", h.Name, err)
	}
	return client, nil
}

// Addresses are every address the driver reports for the host: from its
// address capability, else its IP.
func (c *Client) Addresses(ctx context.Context, h *host.Host) (capability.Addresses, error) {
	if a, ok := capability.Get[capability.AddressReporter](h.Driver); ok {
		addrs, err := a.Addresses(ctx)
		if err != nil {
			return capability.Addresses{}, fmt.Errorf("getting the addresses of %q: %w", h.Name, err)
		}
		return addrs, nil
	}
	ip, err := h.Driver.GetIP()
	if err != nil {
		return capability.Addresses{}, fmt.Errorf("getting the IP address of %q: %w", h.Name, err)
	}
	return capability.Addresses{Public: []string{ip}}, nil
}

// hasSSH reports whether the machine can be reached over SSH at all.
func hasSSH(h *host.Host) bool {
	n, ok := capability.Get[capability.SSHLess](h.Driver)
	return !ok || !n.HasNoSSH()
}

func (c *Client) serverCertHosts(ctx context.Context, h *host.Host) ([]string, error) {
	addrs, err := c.Addresses(ctx, h)
	if err != nil {
		return nil, err
	}
	return certs.ServerCertHosts(h.Name, addrs.All(), h.HostOptions.AuthOptions.ServerCertSANs), nil
}

// copyClientCerts puts copies of the CA and client certificate into the
// machine directory, where `env` and `config` point the docker client.
func (c *Client) copyClientCerts(h *host.Host) error {
	a := h.HostOptions.AuthOptions
	files := c.Files(h)
	for src, dst := range map[string]string{a.CaCertPath: files.CACert, a.ClientCertPath: files.ClientCert, a.ClientKeyPath: files.ClientKey} {
		if err := copyFile(src, dst); err != nil {
			return fmt.Errorf("copying %s into the machine directory of %q: %w", src, h.Name, err)
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	info, err := os.Stat(src)
	if err != nil {
		return err
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, data, info.Mode().Perm()); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// issueServerCert signs a new server certificate for every current address.
func (c *Client) issueServerCert(ctx context.Context, h *host.Host) error {
	hosts, err := c.serverCertHosts(ctx, h)
	if err != nil {
		return err
	}
	a := h.HostOptions.AuthOptions
	err = certs.GenerateServerCert(a.CaCertPath, a.CaPrivateKeyPath, a.ServerCertPath, a.ServerKeyPath, certs.ServerCertOptions{
		Org:        certs.DefaultOrg() + "." + h.Name,
		Hosts:      hosts,
		ClientAuth: h.HostOptions.SwarmOptions != nil && h.HostOptions.SwarmOptions.Master,
	})
	if err != nil {
		return fmt.Errorf("generating the server certificate of %q: %w", h.Name, err)
	}
	return nil
}

// dockerAddr is host:port of the machine's Docker API.
func dockerAddr(h *host.Host) (string, string, error) {
	raw, err := h.Driver.GetURL()
	if err != nil {
		return "", "", fmt.Errorf("getting the Docker URL of %q: %w", h.Name, err)
	}
	addr, err := urlAddr(h, raw)
	return raw, addr, err
}

// urlAddr is the host:port of the Docker URL raw of machine h.
func urlAddr(h *host.Host, raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("machine %q reports an invalid Docker URL %q", h.Name, raw)
	}
	if _, _, err := net.SplitHostPort(u.Host); err != nil {
		return "", fmt.Errorf("machine %q reports a Docker URL without a port: %q", h.Name, raw)
	}
	return u.Host, nil
}

// CheckDocker verifies the machine's Docker API answers a TLS handshake with
// the client certificate, and that the server certificate still covers every
// address of the host. With fix, a certificate that no longer fits (the
// stock CLI's "x509: certificate is valid for A, not B") is re-issued and
// installed by provisioning, then the check runs again. It returns the URL.
func (c *Client) CheckDocker(ctx context.Context, h *host.Host, fix bool) (string, error) {
	rawURL, addr, err := dockerAddr(h)
	if err != nil {
		return "", err
	}
	files := c.Files(h)
	if _, err := os.Stat(files.CACert); err != nil {
		if err := c.copyClientCerts(h); err != nil {
			return "", err
		}
	}
	stale := c.staleServerCert(ctx, h)
	if stale == nil {
		stale = certs.CheckConnection(ctx, addr, files.CACert, files.ClientCert, files.ClientKey)
	}
	if stale == nil {
		return rawURL, nil
	}
	var se *certs.StaleCertError
	if !errors.As(stale, &se) {
		// Not a certificate problem: the daemon is down or unreachable.
		return "", fmt.Errorf("Error checking TLS connection: %w\nCheck that the machine is running ('docker-machine status %s') and that Docker listens on %s.", stale, h.Name, addr)
	}
	// A machine without SSH cannot be re-provisioned.
	if !fix || !hasSSH(h) {
		return "", fmt.Errorf("Error checking TLS connection: %w\nYou can attempt to regenerate the certificates with 'docker-machine regenerate-certs %s'", stale, h.Name)
	}
	c.Infof("The TLS certificate of %q no longer fits (%v); regenerating it...", h.Name, stale)
	if err := c.Provision(ctx, h); err != nil {
		return "", err
	}
	if err := certs.CheckConnection(ctx, addr, files.CACert, files.ClientCert, files.ClientKey); err != nil {
		return "", fmt.Errorf("Error checking TLS connection to %q after regenerating its certificate: %w", h.Name, err)
	}
	return rawURL, nil
}

// staleServerCert checks the local copy of the server certificate against
// the host's current addresses and the current CA.
func (c *Client) staleServerCert(ctx context.Context, h *host.Host) error {
	a := h.HostOptions.AuthOptions
	if _, err := os.Stat(a.ServerCertPath); err != nil {
		return nil // nothing local to judge; the handshake decides
	}
	hosts, err := c.serverCertHosts(ctx, h)
	if err != nil {
		return err
	}
	return certs.CheckServerCert(a.CaCertPath, a.ServerCertPath, hosts, time.Now())
}

// Provision installs and configures Docker on the machine over one SSH
// connection: TLS daemon, engine options. The server certificate is kept
// while it still fits the host, so a second provision changes nothing.
func (c *Client) Provision(ctx context.Context, h *host.Host) error {
	return c.provision(ctx, h, c.access().provision, false)
}

// RegenerateCerts issues a new server certificate and installs it.
func (c *Client) RegenerateCerts(ctx context.Context, h *host.Host) error {
	return c.provision(ctx, h, c.access().provision, true)
}

// Upgrade upgrades Docker on the machine through its install path.
func (c *Client) Upgrade(ctx context.Context, h *host.Host) error {
	return c.provision(ctx, h, c.access().upgrade, false)
}

type provisionFunc func(context.Context, provision.Commander, provision.Options) (*provision.Report, error)

// machineConn is the command channel provisioning runs over.
type machineConn interface {
	provision.Commander
	Stats() (dials, commands int)
	Close() error
}

// machineAccess is how the client reaches a machine and provisions it, so
// that the lifecycle can be exercised against a simulated machine; a nil
// field takes the real one.
type machineAccess struct {
	dial      func(ctx context.Context, h *host.Host) (machineConn, error)
	provision provisionFunc
	upgrade   provisionFunc
}

func (c *Client) access() machineAccess {
	a := c.machines
	if a.dial == nil {
		a.dial = func(ctx context.Context, h *host.Host) (machineConn, error) {
			client, err := c.SSH(ctx, h)
			if err != nil {
				return nil, err
			}
			return client, nil
		}
	}
	if a.provision == nil {
		a.provision = provision.Provision
	}
	if a.upgrade == nil {
		a.upgrade = provision.Upgrade
	}
	return a
}

func (c *Client) provision(ctx context.Context, h *host.Host, run provisionFunc, newCert bool) error {
	c.Infof("Waiting for SSH to be available...")
	client, err := c.access().dial(ctx, h)
	if err != nil {
		return err
	}
	defer client.Close()
	c.Infof("Copying certs to the local machine directory...")
	if err := c.copyClientCerts(h); err != nil {
		return err
	}
	if _, err := os.Stat(h.HostOptions.AuthOptions.ServerCertPath); err != nil || newCert || c.staleServerCert(ctx, h) != nil {
		if err := c.issueServerCert(ctx, h); err != nil {
			return err
		}
	}
	a := h.HostOptions.AuthOptions
	caPEM, err := os.ReadFile(a.CaCertPath)
	if err != nil {
		return fmt.Errorf("reading the CA certificate: %w", err)
	}
	serverPEM, err := os.ReadFile(a.ServerCertPath)
	if err != nil {
		return fmt.Errorf("reading the server certificate of %q: %w", h.Name, err)
	}
	serverKey, err := os.ReadFile(a.ServerKeyPath)
	if err != nil {
		return fmt.Errorf("reading the server key of %q: %w", h.Name, err)
	}
	rawURL, addr, err := dockerAddr(h)
	if err != nil {
		return err
	}
	port := 2376
	if u, err := url.Parse(rawURL); err == nil {
		fmt.Sscanf(u.Port(), "%d", &port)
	}
	// Behind a port forward, Docker listens on the host's own port.
	if f, ok := capability.Get[capability.EngineForwarder](h.Driver); ok && f.EnginePort() > 0 {
		port = f.EnginePort()
	}
	disk, err := dataDisk(h)
	if err != nil {
		return err
	}
	files := c.Files(h)
	report, err := run(ctx, client, provision.Options{
		DataDisk:    disk,
		MachineName: h.Name,
		DriverName:  h.DriverName,
		Engine:      h.HostOptions.EngineOptions,
		DockerPort:  port,
		CACert:      caPEM,
		ServerCert:  serverPEM,
		ServerKey:   serverKey,
		CheckDocker: func(ctx context.Context) error {
			return certs.CheckConnection(ctx, addr, files.CACert, files.ClientCert, files.ClientKey)
		},
		Progress: func(step string) { c.Infof("%s", step) },
	})
	if err != nil {
		return fmt.Errorf("Error running provisioning of %q: %w", h.Name, err)
	}
	c.logReport(h, report, client)
	c.Infof("Docker is up and running!")
	return nil
}

// dataDisk is the data disk the driver attached for the provisioner, if any.
func dataDisk(h *host.Host) (*provision.DataDisk, error) {
	dd, ok := capability.Get[capability.DataDisker](h.Driver)
	if !ok {
		return nil, nil
	}
	disk, err := dd.DataDisk()
	if err != nil {
		return nil, fmt.Errorf("reading the data disk of %q: %w", h.Name, err)
	}
	if disk == nil || disk.Device == "" {
		return nil, nil
	}
	return &provision.DataDisk{Device: disk.Device, FS: disk.FS}, nil
}

// logReport records, at debug level, where provisioning spent its time and
// how much it asked of the host.
func (c *Client) logReport(h *host.Host, r *provision.Report, client machineConn) {
	if r == nil {
		return
	}
	dials, commands := client.Stats()
	var total time.Duration
	attrs := []any{"machine", h.Name, "os", r.OS, "changed", r.Changed, "installed", r.Installed, "ssh_connections", dials, "ssh_commands", commands}
	for _, s := range r.Steps {
		total += s.Duration
		attrs = append(attrs, "step."+s.Name, s.Duration.Round(time.Millisecond))
	}
	attrs = append(attrs, "total", total.Round(time.Millisecond))
	c.Log.Debug("provisioning report", attrs...)
}
