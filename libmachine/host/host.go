// Package host is the machine model persisted in a store's config.json.
//
// The JSON shape matches docker-machine 0.16.2 (ConfigVersion 3) field for
// field, so stores written by the stock CLI and by this one are interchangeable.
package host

import (
	"encoding/json"
	"fmt"

	"github.com/docker/machine/libmachine/drivers"

	"github.com/fleetdock/machine/libmachine/hostopts"
)

// ConfigVersion is the config.json version this package writes.
const ConfigVersion = 3

// Host is one machine: its driver state and the options it was created with.
type Host struct {
	ConfigVersion int
	// Driver is the live driver bound to this host; nil until a driver is
	// attached (see RawDriver).
	Driver      drivers.Driver `json:"-"`
	DriverName  string
	HostOptions *Options
	Name        string
	// RawDriver is the driver's opaque JSON as stored in config.json.
	RawDriver json.RawMessage `json:"-"`
}

// Options are the host-wide settings given on create. The option types live
// in the leaf package hostopts so that the provisioner can use them without
// importing the host model.
type Options struct {
	Driver        string
	Memory        int
	Disk          int
	EngineOptions *hostopts.Engine
	SwarmOptions  *hostopts.Swarm
	AuthOptions   *hostopts.Auth
}

// Metadata is the part of config.json read before the driver is known.
type Metadata struct {
	ConfigVersion int
	DriverName    string
	HostOptions   Options
}

type wireHost struct {
	ConfigVersion int
	Driver        json.RawMessage
	DriverName    string
	HostOptions   *Options
	Name          string
}

// MarshalJSON writes the stock layout; the driver's JSON comes from the live
// driver when one is attached, else from RawDriver.
func (h *Host) MarshalJSON() ([]byte, error) {
	raw := h.RawDriver
	if h.Driver != nil {
		b, err := json.Marshal(h.Driver)
		if err != nil {
			return nil, fmt.Errorf("encoding driver state of %q: %w", h.Name, err)
		}
		raw = b
	}
	if len(raw) == 0 {
		raw = json.RawMessage("null")
	}
	return json.MarshalIndent(wireHost{
		ConfigVersion: h.ConfigVersion,
		Driver:        raw,
		DriverName:    h.DriverName,
		HostOptions:   h.HostOptions,
		Name:          h.Name,
	}, "", "    ")
}

// UnmarshalJSON reads a version-3 config; the driver JSON lands in RawDriver.
func (h *Host) UnmarshalJSON(b []byte) error {
	var w wireHost
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	h.ConfigVersion = w.ConfigVersion
	h.RawDriver = w.Driver
	h.DriverName = w.DriverName
	h.HostOptions = w.HostOptions
	h.Name = w.Name
	return nil
}
