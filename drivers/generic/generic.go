// Package generic is the driver for existing Linux hosts reached over SSH.
//
// Flags, env vars and JSON fields match docker-machine 0.16.2's "generic"
// driver, so machines stored by either CLI load in the other and scripts that
// pass GENERIC_* variables keep working.
package generic

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/docker/machine/libmachine/drivers"
	"github.com/docker/machine/libmachine/mcnflag"
	"github.com/docker/machine/libmachine/state"

	"github.com/fleetdock/machine/libmachine/capability"
	"github.com/fleetdock/machine/libmachine/poll"
)

// Name is the driver's name as used with --driver.
const Name = "generic"

// DefaultEnginePort is the Docker TLS port the provisioner configures.
const DefaultEnginePort = 2376

// Tunables; variables so tests can shorten them.
var (
	// sshWaitTimeout bounds how long Create waits for the SSH port.
	sshWaitTimeout = 2 * time.Minute
	// stateDialTimeout bounds the TCP probe behind GetState.
	stateDialTimeout = 3 * time.Second
	// sshCommandTimeout bounds connecting and authenticating for Restart.
	sshCommandTimeout = 15 * time.Second
)

// Driver manages an existing host by SSH.
type Driver struct {
	*drivers.BaseDriver
	EnginePort int
	// SSHKey is the key path given on create; Create copies it to SSHKeyPath.
	SSHKey string

	logger *slog.Logger `json:"-"` // nil: slog.Default() at each call
}

// SetLogger makes the driver log through l: the CLI hands it the logger of
// the command it runs in. Without one (as a plugin binary) it logs through
// slog.Default().
func (d *Driver) SetLogger(l *slog.Logger) { d.logger = l }

func (d *Driver) log() *slog.Logger {
	if d.logger != nil {
		return d.logger
	}
	return slog.Default()
}

// NewDriver returns a driver for machine hostName in the store at storePath.
func NewDriver(hostName, storePath string) *Driver {
	return &Driver{
		EnginePort: DefaultEnginePort,
		BaseDriver: &drivers.BaseDriver{
			MachineName: hostName,
			StorePath:   storePath,
		},
	}
}

// GetCreateFlags returns the stock generic flags, in stock order.
func (d *Driver) GetCreateFlags() []mcnflag.Flag {
	return []mcnflag.Flag{
		mcnflag.IntFlag{
			Name:   "generic-engine-port",
			Usage:  "Docker engine port",
			Value:  DefaultEnginePort,
			EnvVar: "GENERIC_ENGINE_PORT",
		},
		mcnflag.StringFlag{
			Name:   "generic-ip-address",
			Usage:  "IP Address of machine",
			EnvVar: "GENERIC_IP_ADDRESS",
		},
		mcnflag.StringFlag{
			Name:   "generic-ssh-user",
			Usage:  "SSH user",
			Value:  drivers.DefaultSSHUser,
			EnvVar: "GENERIC_SSH_USER",
		},
		mcnflag.StringFlag{
			Name:   "generic-ssh-key",
			Usage:  "SSH private key path (if not provided, default SSH key will be used)",
			Value:  "",
			EnvVar: "GENERIC_SSH_KEY",
		},
		mcnflag.IntFlag{
			Name:   "generic-ssh-port",
			Usage:  "SSH port",
			Value:  drivers.DefaultSSHPort,
			EnvVar: "GENERIC_SSH_PORT",
		},
	}
}

// SetConfigFromFlags reads the generic-* options.
func (d *Driver) SetConfigFromFlags(flags drivers.DriverOptions) error {
	d.EnginePort = flags.Int("generic-engine-port")
	d.IPAddress = flags.String("generic-ip-address")
	d.SSHUser = flags.String("generic-ssh-user")
	d.SSHKey = flags.String("generic-ssh-key")
	d.SSHPort = flags.Int("generic-ssh-port")

	if d.IPAddress == "" {
		return errors.New("generic driver requires the --generic-ip-address option")
	}
	for flag, port := range map[string]int{"--generic-ssh-port": d.SSHPort, "--generic-engine-port": d.EnginePort} {
		if port < 1 || port > 65535 {
			return fmt.Errorf("%s %d is not a TCP port: give a number from 1 to 65535", flag, port)
		}
	}
	return nil
}

// DriverName returns "generic".
func (d *Driver) DriverName() string { return Name }

// GetSSHHostname is the host's IP address.
func (d *Driver) GetSSHHostname() (string, error) { return d.GetIP() }

// GetSSHUsername returns the configured user as is (stock does not default it here).
func (d *Driver) GetSSHUsername() string { return d.SSHUser }

// GetSSHKeyPath returns the copied key, or "" when the default key is used.
func (d *Driver) GetSSHKeyPath() string { return d.SSHKeyPath }

// PreCreateCheck fails early on a missing IP or an unreadable key, before
// anything is written to the store.
func (d *Driver) PreCreateCheck() error {
	if d.IPAddress == "" {
		return errors.New("generic driver requires the --generic-ip-address option")
	}
	if d.SSHKey == "" {
		return nil
	}
	f, err := os.Open(d.SSHKey)
	if err != nil {
		return fmt.Errorf("SSH key %q for machine %q cannot be read: %w; pass a readable private key with --generic-ssh-key", d.SSHKey, d.MachineName, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("SSH key %q for machine %q cannot be read: %w", d.SSHKey, d.MachineName, err)
	}
	if info.IsDir() {
		return fmt.Errorf("SSH key %q for machine %q is a directory; pass the private key file with --generic-ssh-key", d.SSHKey, d.MachineName)
	}
	// Reading one byte catches files that open but cannot be read.
	if _, err := f.Read(make([]byte, 1)); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("SSH key %q for machine %q cannot be read: %w", d.SSHKey, d.MachineName, err)
	}
	return nil
}

// Create imports the SSH key into the machine directory and waits until the
// host's SSH port accepts connections.
func (d *Driver) Create() error { return d.CreateContext(context.Background()) }

// CreateContext is Create, stopped when ctx ends.
func (d *Driver) CreateContext(ctx context.Context) error {
	if d.SSHKey == "" {
		d.log().Info("No SSH key specified; assuming the host accepts an existing key from the default location", "machine", d.MachineName)
	} else {
		d.log().Info("Importing SSH key", "machine", d.MachineName)
		machineDir := d.ResolveStorePath(".")
		if err := os.MkdirAll(machineDir, 0o700); err != nil {
			return fmt.Errorf("creating the directory for machine %q: %w", d.MachineName, err)
		}
		d.SSHKeyPath = d.ResolveStorePath(filepath.Base(d.SSHKey))
		if err := copyKey(d.SSHKey, d.SSHKeyPath); err != nil {
			return fmt.Errorf("importing SSH key for machine %q: %w", d.MachineName, err)
		}
		// The public half is optional, as in stock.
		if err := copyKey(d.SSHKey+".pub", d.SSHKeyPath+".pub"); err != nil && !errors.Is(err, os.ErrNotExist) {
			d.log().Info("Could not copy the SSH public key", "machine", d.MachineName, "err", err)
		}
	}
	return d.waitForSSHPort(ctx, sshWaitTimeout)
}

// waitForSSHPort polls the SSH port with growing pauses until it accepts a
// TCP connection, the timeout passes or ctx ends.
func (d *Driver) waitForSSHPort(ctx context.Context, timeout time.Duration) error {
	addr, err := d.sshAddress()
	if err != nil {
		return err
	}
	d.log().Info("Waiting for the SSH port to accept connections", "machine", d.MachineName, "address", addr, "timeout", timeout)
	o := poll.Options{
		What:    fmt.Sprintf("the SSH port %s of machine %q to accept connections", addr, d.MachineName),
		Timeout: timeout, Initial: 200 * time.Millisecond, Max: 5 * time.Second, Factor: 2, Jitter: 0.2,
	}
	err = poll.Until(ctx, o, func(ctx context.Context) (bool, error) {
		ctx, cancel := context.WithTimeout(ctx, stateDialTimeout)
		defer cancel()
		var dialer net.Dialer
		conn, err := dialer.DialContext(ctx, "tcp", addr)
		if err != nil {
			return false, err
		}
		conn.Close()
		return true, nil
	})
	if errors.Is(err, poll.ErrTimedOut) {
		return fmt.Errorf("%w; check that the host is up, that sshd listens on port %d and that no firewall blocks it", err, d.sshPort())
	}
	return err
}

// GetURL returns tcp://IP:ENGINEPORT once the host answers, as stock does.
func (d *Driver) GetURL() (string, error) {
	if err := drivers.MustBeRunning(d); err != nil {
		return "", err
	}
	ip, err := d.GetIP()
	if err != nil {
		return "", err
	}
	return "tcp://" + net.JoinHostPort(ip, strconv.Itoa(d.EnginePort)), nil
}

// GetState is Running when the SSH port accepts a TCP connection, Stopped
// otherwise: an existing host has no API to ask.
func (d *Driver) GetState() (state.State, error) { return d.GetStateContext(context.Background()) }

// GetStateContext is GetState, stopped when ctx ends.
func (d *Driver) GetStateContext(ctx context.Context) (state.State, error) {
	addr, err := d.sshAddress()
	if err != nil {
		return state.Error, err
	}
	ctx, cancel := context.WithTimeout(ctx, stateDialTimeout)
	defer cancel()
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if ctx.Err() != nil && ctx.Err() != context.DeadlineExceeded {
		return state.Error, ctx.Err()
	}
	if err != nil {
		return state.Stopped, nil
	}
	conn.Close()
	return state.Running, nil
}

// Start, Stop and Kill are not possible without a cloud API; Restart reboots
// the host over SSH. Wording matches stock.

func (d *Driver) Start() error { return errors.New("generic driver does not support start") }
func (d *Driver) Stop() error  { return errors.New("generic driver does not support stop") }
func (d *Driver) Kill() error  { return errors.New("generic driver does not support kill") }

// Restart reboots the host with "sudo shutdown -r now".
func (d *Driver) Restart() error {
	return d.runSSH("sudo shutdown -r now")
}

// Remove leaves the host alone: it was never ours.
func (d *Driver) Remove() error { return nil }

// The context-taking forms of the calls that need no waiting (they check
// a file, or return at once) are the plain calls; Restart's SSH command is
// short.
func (d *Driver) PreCreateCheckContext(context.Context) error { return d.PreCreateCheck() }
func (d *Driver) RemoveContext(context.Context) error         { return d.Remove() }
func (d *Driver) StartContext(context.Context) error          { return d.Start() }
func (d *Driver) StopContext(context.Context) error           { return d.Stop() }
func (d *Driver) KillContext(context.Context) error           { return d.Kill() }
func (d *Driver) RestartContext(context.Context) error        { return d.Restart() }

var _ capability.Cancellable = (*Driver)(nil)

func (d *Driver) sshPort() int {
	if d.SSHPort == 0 {
		return drivers.DefaultSSHPort
	}
	return d.SSHPort
}

func (d *Driver) sshAddress() (string, error) {
	if d.IPAddress == "" {
		return "", fmt.Errorf("machine %q has no IP address; recreate it with --generic-ip-address", d.MachineName)
	}
	return net.JoinHostPort(d.IPAddress, strconv.Itoa(d.sshPort())), nil
}

// copyKey copies a key file, leaving the copy readable by the owner only.
func copyKey(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		return err
	}
	// WriteFile keeps the mode of an existing file; force 0600.
	return os.Chmod(dst, 0o600)
}
