// Package host is the machine model persisted in a store's config.json.
//
// The JSON shape matches docker-machine 0.16.2 (ConfigVersion 3) field for
// field, so stores written by the stock CLI and by this one are interchangeable.
package host

import (
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/docker/machine/libmachine/drivers"
)

// ConfigVersion is the config.json version this package writes.
const ConfigVersion = 3

var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9\-\.]*$`)

// ValidateName reports whether name is a legal machine name (same rule as stock).
func ValidateName(name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("invalid machine name %q: a name must start with a letter or digit and contain only letters, digits, '-' and '.'", name)
	}
	return nil
}

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

// Options are the host-wide settings given on create.
type Options struct {
	Driver        string
	Memory        int
	Disk          int
	EngineOptions *EngineOptions
	SwarmOptions  *SwarmOptions
	AuthOptions   *AuthOptions
}

// EngineOptions configure the Docker daemon on the host.
type EngineOptions struct {
	ArbitraryFlags   []string
	DNS              []string `json:"Dns"`
	GraphDir         string
	Env              []string
	Ipv6             bool
	InsecureRegistry []string
	Labels           []string
	LogLevel         string
	StorageDriver    string
	SelinuxEnabled   bool
	TLSVerify        bool `json:"TlsVerify"`
	RegistryMirror   []string
	InstallURL       string
}

// SwarmOptions are the legacy standalone-swarm settings, kept for compatibility.
type SwarmOptions struct {
	IsSwarm            bool
	Address            string
	Discovery          string
	Agent              bool
	Master             bool
	Host               string
	Image              string
	Strategy           string
	Heartbeat          int
	Overcommit         float64
	ArbitraryFlags     []string
	ArbitraryJoinFlags []string
	Env                []string
	IsExperimental     bool
}

// AuthOptions locate the TLS material of a host.
type AuthOptions struct {
	CertDir              string
	CaCertPath           string
	CaPrivateKeyPath     string
	CaCertRemotePath     string
	ServerCertPath       string
	ServerKeyPath        string
	ClientKeyPath        string
	ServerCertRemotePath string
	ServerKeyRemotePath  string
	ClientCertPath       string
	ServerCertSANs       []string
	StorePath            string
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
