package vboxsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Backend names what runs a started machine.
const (
	// BackendNone records the start but runs nothing: for tests of the
	// command sequence alone.
	BackendNone = "none"
	// BackendContainer runs a VM-like hostworld container per machine.
	BackendContainer = "container"
	// BackendQEMU boots the attached disk in a real QEMU VM.
	BackendQEMU = "qemu"
)

// Config is what a test decides about the simulated host; it lives in
// config.json in the state folder and is read at every call.
type Config struct {
	// Version is what --version prints; default DefaultVersion.
	Version string `json:"version,omitempty"`
	// Platform is the host OS the stand-in plays: "linux" (default) or
	// "darwin". VirtualBox 7 on macOS has host-only networks
	// (hostonlynet) and refuses host-only adapters; the Linux build has
	// no hostonlynet command.
	Platform string `json:"platform,omitempty"`
	// Virtualization is the host's hardware virtualisation: "vtx"
	// (default), "amdv", "none-vtx" (VERR_VMX_NO_VMX), "disabled-vtx"
	// (VERR_VMX_MSR_ALL_VMX_DISABLED), "none-amdv" (VERR_SVM_NO_SVM) or
	// "hyperv" (VERR_NEM_NOT_AVAILABLE with VERR_SVM_DISABLED).
	Virtualization string `json:"virtualization,omitempty"`
	// NoHostOnlyDriver makes hostonlyif create fail as it does without the
	// vboxnetadp module (failed to open /dev/vboxnetctl).
	NoHostOnlyDriver bool `json:"noHostOnlyDriver,omitempty"`
	// HostOnlyRanges are the CIDRs host-only interfaces may use, as
	// /etc/vbox/networks.conf lists them; default 192.168.56.0/21.
	HostOnlyRanges []string `json:"hostOnlyRanges,omitempty"`
	// NoDefaultDHCP leaves out the DHCP server for vboxnet0 that a fresh
	// VirtualBox install has.
	NoDefaultDHCP bool `json:"noDefaultDHCP,omitempty"`
	// Backend is BackendNone (default), BackendContainer or BackendQEMU.
	Backend string `json:"backend,omitempty"`
	// ContainerImage is the hostworld image for the container backend;
	// default hostworld.EnsureImage's.
	ContainerImage string `json:"containerImage,omitempty"`
	// Accel is QEMU's accelerator: "tcg" or "kvm". Default: kvm only when
	// /proc/cpuinfo shows vmx or svm (a KVM without them cannot boot
	// ordinary guests), tcg otherwise.
	Accel string `json:"accel,omitempty"`
	// Faults make chosen calls fail.
	Faults []Fault `json:"faults,omitempty"`
}

// DefaultVersion is the VirtualBox version the stand-in reports.
const DefaultVersion = "7.2.22r175245"

// Fault makes matching calls fail with the given output and exit code
// instead of running. A call matches when its first argument is Command
// (or Command is empty), every string of Contains is one of its arguments,
// and it is the Nth such call (Nth 0: every such call) or the Call-th call
// of all (when Call is set).
type Fault struct {
	Command  string   `json:"command,omitempty"`
	Contains []string `json:"contains,omitempty"`
	Nth      int      `json:"nth,omitempty"`
	Call     int      `json:"call,omitempty"`
	ExitCode int      `json:"exitCode,omitempty"` // default 1
	Stdout   string   `json:"stdout,omitempty"`
	Stderr   string   `json:"stderr,omitempty"`
}

func (f Fault) matches(args []string) bool {
	if f.Command != "" && (len(args) == 0 || !strings.EqualFold(args[0], f.Command)) {
		return false
	}
	for _, c := range f.Contains {
		found := false
		for _, a := range args {
			if a == c {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// LoadConfig reads the configuration of the state folder home.
func LoadConfig(home string) (*Config, error) {
	c := &Config{}
	data, err := os.ReadFile(filepath.Join(home, configFile))
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the stand-in's configuration: %w", err)
	}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("the stand-in's configuration %s is not valid JSON: %w", filepath.Join(home, configFile), err)
	}
	return c, c.validate()
}

// SaveConfig writes the configuration of the state folder home.
func SaveConfig(home string, c *Config) error {
	if err := c.validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(home, 0o755); err != nil {
		return fmt.Errorf("creating the state folder: %w", err)
	}
	return writeJSON(filepath.Join(home, configFile), c)
}

func (c *Config) validate() error {
	switch c.Platform {
	case "", "linux", "darwin":
	default:
		return fmt.Errorf("vboxsim platform %q is unknown: use linux or darwin", c.Platform)
	}
	switch c.Virtualization {
	case "", "vtx", "amdv", "none-vtx", "disabled-vtx", "none-amdv", "hyperv":
	default:
		return fmt.Errorf("vboxsim virtualization %q is unknown: use vtx, amdv, none-vtx, disabled-vtx, none-amdv or hyperv", c.Virtualization)
	}
	switch c.Backend {
	case "", BackendNone, BackendContainer, BackendQEMU:
	default:
		return fmt.Errorf("vboxsim backend %q is unknown: use none, container or qemu", c.Backend)
	}
	switch c.Accel {
	case "", "tcg", "kvm":
	default:
		return fmt.Errorf("vboxsim accel %q is unknown: use tcg or kvm", c.Accel)
	}
	return nil
}

func (c *Config) version() string {
	if c.Version == "" {
		return DefaultVersion
	}
	return c.Version
}

func (c *Config) darwin() bool { return c.Platform == "darwin" }

func (c *Config) backend() string {
	if c.Backend == "" {
		return BackendNone
	}
	return c.Backend
}

func (c *Config) hostOnlyRanges() []string {
	if len(c.HostOnlyRanges) == 0 {
		return []string{"192.168.56.0/21"}
	}
	return c.HostOnlyRanges
}
