// Package hostopts holds the settings a machine is created with: the Docker
// engine's options, the TLS material's locations, the legacy swarm settings
// and the machine name rule.
//
// It is a leaf: the host model (libmachine/host) stores these types in
// config.json and the provisioner (provision) reads them, and neither has to
// import the other. The JSON field names and their order are docker-machine
// 0.16.2's, byte for byte, because they are written into config.json.
package hostopts

import (
	"fmt"
	"regexp"
)

var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9\-\.]*$`)

// ValidateName reports whether name is a legal machine name (same rule as
// stock). The provisioner also relies on it, since the name becomes the
// host name.
func ValidateName(name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("invalid machine name %q: a name must start with a letter or digit and contain only letters, digits, '-' and '.'", name)
	}
	if len(name) > MaxNameLength {
		return fmt.Errorf("invalid machine name %q: it has %d characters, at most %d fit, because the name becomes the host's name", name, len(name), MaxNameLength)
	}
	return nil
}

// MaxNameLength bounds machine names: the name becomes the host name,
// which Linux and DNS labels limit to 63 characters.
const MaxNameLength = 63

// Engine configures the Docker daemon on the host.
type Engine struct {
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

// Swarm holds the legacy standalone-swarm settings, kept for compatibility.
type Swarm struct {
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

// Auth locates the TLS material of a host.
type Auth struct {
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
