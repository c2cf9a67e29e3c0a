// Package none is the driver for Docker hosts that already exist and are
// reached by URL only: nothing is created, started or stopped.
//
// Its flags and JSON fields match docker-machine 0.16.2's "none" driver, so
// machines stored by either CLI load in the other.
package none

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/docker/machine/libmachine/drivers"
	"github.com/docker/machine/libmachine/mcnflag"
	"github.com/docker/machine/libmachine/state"
)

// Name is the driver's name as used with --driver.
const Name = "none"

// Driver points at an existing Docker host.
type Driver struct {
	*drivers.BaseDriver
	URL string
}

// NewDriver returns a driver for machine hostName in the store at storePath.
func NewDriver(hostName, storePath string) *Driver {
	return &Driver{BaseDriver: &drivers.BaseDriver{MachineName: hostName, StorePath: storePath}}
}

// HasNoSSH says the machine is reached by its Docker URL only: there is
// nothing to provision and no SSH to re-issue certificates through.
func (d *Driver) HasNoSSH() bool { return true }

// GetCreateFlags returns the single --url flag. Stock has no env var for it.
func (d *Driver) GetCreateFlags() []mcnflag.Flag {
	return []mcnflag.Flag{
		mcnflag.StringFlag{
			Name:  "url",
			Usage: "URL of host when no driver is selected",
			Value: "",
		},
	}
}

// SetConfigFromFlags reads --url. The host part (with port, as stock keeps
// it) becomes the machine's IP address.
func (d *Driver) SetConfigFromFlags(flags drivers.DriverOptions) error {
	raw := flags.String("url")
	if raw == "" {
		return errors.New("--url option is required when no driver is selected")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("--url %q is not a valid URL (expected e.g. tcp://192.0.2.10:2376): %w", raw, err)
	}
	d.URL = raw
	d.IPAddress = u.Host
	return nil
}

// DriverName returns "none".
func (d *Driver) DriverName() string { return Name }

// Create does nothing: the host already exists.
func (d *Driver) Create() error { return nil }

// Remove does nothing: the host is not ours to delete.
func (d *Driver) Remove() error { return nil }

// GetIP returns the host part of the URL (possibly empty).
func (d *Driver) GetIP() (string, error) { return d.IPAddress, nil }

// GetURL returns the URL given on create.
func (d *Driver) GetURL() (string, error) { return d.URL, nil }

// GetState always reports Running: there is nothing to ask.
func (d *Driver) GetState() (state.State, error) { return state.Running, nil }

// The none driver has no SSH access.

func (d *Driver) GetSSHHostname() (string, error) { return "", nil }
func (d *Driver) GetSSHKeyPath() string           { return "" }
func (d *Driver) GetSSHPort() (int, error)        { return 0, nil }
func (d *Driver) GetSSHUsername() string          { return "" }

// Lifecycle operations are refused with the same wording as stock.

func (d *Driver) Start() error {
	return errors.New("hosts without a driver cannot be started")
}

func (d *Driver) Stop() error {
	return errors.New("hosts without a driver cannot be stopped")
}

func (d *Driver) Restart() error {
	return errors.New("hosts without a driver cannot be restarted")
}

func (d *Driver) Kill() error {
	return errors.New("hosts without a driver cannot be killed")
}
