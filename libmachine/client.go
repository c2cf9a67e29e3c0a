// Package libmachine ties the store, the drivers and the provisioners into
// the host lifecycle the CLI exposes: create, load, start/stop, provision,
// certificate upkeep and removal.
package libmachine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/fleetdock/machine/certs"
	"github.com/fleetdock/machine/libmachine/host"
	"github.com/fleetdock/machine/libmachine/plugin"
	"github.com/fleetdock/machine/libmachine/store"
)

// Client is one CLI invocation's view of a store. It remembers the driver
// plugins it opened so Close can shut them all down.
type Client struct {
	Store *store.Store
	// Certs are the CA and client certificate used for new machines;
	// the --tls-* global flags override the store's defaults.
	Certs certs.BootstrapPaths
	// Out receives the user-facing progress lines ("Creating machine...").
	Out io.Writer
	// Log receives debug output (-D).
	Log *slog.Logger
	// PluginDirs are searched for docker-machine-driver-* after PATH.
	PluginDirs []string
	// NativeSSH mirrors the --native-ssh flag; the client is always native,
	// the flag is accepted for compatibility.
	NativeSSH bool

	// machines reach and provision machines; the zero value is SSH and the
	// provision package.
	machines machineAccess

	mu     sync.Mutex
	opened []plugin.Driver
}

// New returns a client over the store at path.
func New(path string, out io.Writer, log *slog.Logger) *Client {
	s := store.New(path)
	if out == nil {
		out = io.Discard
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c := &Client{Store: s, Out: out, Log: log}
	c.Certs = certs.BootstrapPaths{
		CACert:     filepath.Join(s.CertsDir(), "ca.pem"),
		CAKey:      filepath.Join(s.CertsDir(), "ca-key.pem"),
		ClientCert: filepath.Join(s.CertsDir(), "cert.pem"),
		ClientKey:  filepath.Join(s.CertsDir(), "key.pem"),
	}
	if exe, err := os.Executable(); err == nil {
		c.PluginDirs = []string{filepath.Dir(exe)}
	}
	return c
}

// Infof prints one progress line for the user.
func (c *Client) Infof(format string, args ...any) {
	fmt.Fprintf(c.Out, format+"\n", args...)
}

// Close shuts down every driver plugin this client started.
func (c *Client) Close() error {
	c.mu.Lock()
	opened := c.opened
	c.opened = nil
	c.mu.Unlock()
	var errs []error
	for _, d := range opened {
		if err := d.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c *Client) openDriver(ctx context.Context, driverName, machineName string, raw []byte) (plugin.Driver, error) {
	d, err := plugin.Open(ctx, driverName, raw, plugin.Options{
		MachineName: machineName,
		StorePath:   c.Store.Path,
		SearchDirs:  c.PluginDirs,
		Logger:      c.Log,
	})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.opened = append(c.opened, d)
	c.mu.Unlock()
	return d, nil
}

// Load reads a machine from the store and attaches its driver.
func (c *Client) Load(ctx context.Context, name string) (*host.Host, error) {
	h, err := c.Store.Load(name)
	if err != nil {
		return nil, err
	}
	d, err := c.openDriver(ctx, h.DriverName, h.Name, h.RawDriver)
	if err != nil {
		return h, fmt.Errorf("loading driver %q of machine %q: %w", h.DriverName, name, err)
	}
	h.Driver = d
	return h, nil
}

// Save writes the machine, with the driver's current state, to the store.
func (c *Client) Save(h *host.Host) error {
	if err := c.Store.Save(h); err != nil {
		return fmt.Errorf("saving machine %q to the store: %w", h.Name, err)
	}
	return nil
}

// MachineFiles are the TLS files a client uses to reach a machine's daemon:
// the copies kept in the machine directory (what `env` points DOCKER_CERT_PATH at).
type MachineFiles struct {
	Dir, CACert, ClientCert, ClientKey string
}

// Files returns the per-machine copies of the CA and client certificate.
func (c *Client) Files(h *host.Host) MachineFiles {
	dir := c.Store.MachineDir(h.Name)
	return MachineFiles{
		Dir:        dir,
		CACert:     filepath.Join(dir, "ca.pem"),
		ClientCert: filepath.Join(dir, "cert.pem"),
		ClientKey:  filepath.Join(dir, "key.pem"),
	}
}
