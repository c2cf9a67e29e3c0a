// Package virtualbox is the docker-machine driver for local VirtualBox VMs.
//
// It keeps every flag, env var and config.json field of the stock 0.16.2
// driver, so machines the stock CLI made keep working, and replaces what no
// longer works on today's VirtualBox:
//
//   - The guest is a cloud image (Ubuntu LTS by default, any qcow2, raw,
//     VMDK or VDI with --virtualbox-image-url) cached in the store's cache/
//     directory, checksum-verified, converted to a VDI and grown to
//     --virtualbox-disk-size, with a cloud-init NoCloud seed ISO (user
//     "docker", the machine's SSH key, sudo, hostname) written in Go. The
//     ordinary SSH provisioner then installs Docker as on any cloud host.
//     --virtualbox-boot2docker-url keeps the stock boot2docker ISO path.
//   - SSH goes over a NAT port forward on 127.0.0.1. Docker is reached over
//     a host-only adapter whose default range lies inside 192.168.56.0/21
//     (the only one VirtualBox 6.1.28+ allows by default), a host-only
//     network on VirtualBox 7 for macOS, or a NAT forward of port 2376.
//
// What a create makes, and what rm (or a failed create) removes again:
//
//	disk.vdi, seed.iso   in the machine directory
//	VM                   createvm --register; rm runs unregistervm --delete
//	host-only adapter    only when none with the wanted address exists;
//	and DHCP server      removed when no other VM uses them any more
//
// Offline use: an image found in STORE/cache under the file name of its
// URL is used without any network request (verified against
// --virtualbox-image-checksum, or against the SHA-256 recorded beside it
// as NAME.sha256 when the driver downloaded it); a file:// URL is read in
// place. A download goes to NAME.part and is renamed when complete and
// verified; an interrupted one is resumed by the next create.
//
// Every VBoxManage call takes the caller's context (exec.CommandContext),
// so a cancelled command stops promptly.
package virtualbox

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/docker/machine/libmachine/drivers"
	"github.com/docker/machine/libmachine/state"

	"github.com/fleetdock/machine/drivers/internal/instance"
	"github.com/fleetdock/machine/drivers/internal/rollback"
	"github.com/fleetdock/machine/libmachine/capability"
)

// Name is the driver's name as used with --driver.
const Name = "virtualbox"

// How the driver reaches Docker in the guest.
const (
	networkAuto        = "auto"
	networkHostOnly    = "hostonly"    // host-only adapter (vboxnetN)
	networkHostOnlyNet = "hostonlynet" // host-only network (VirtualBox 7, macOS)
	networkNAT         = "nat"         // NAT forward of the Docker port on 127.0.0.1
)

// Guest kinds.
const (
	guestCloudImage  = "cloud-image"
	guestBoot2Docker = "boot2docker"
)

const (
	dockerPort   = 2376
	sshGuestPort = 22
	loopback     = "127.0.0.1"
)

// Deadlines; variables so tests can shrink them.
var (
	createTimeout  = 30 * time.Minute // includes a first image download
	bootTimeout    = 10 * time.Minute // VM start to SSH (software-emulated VMs are slow)
	stopTimeout    = 2 * time.Minute  // ACPI shutdown before a hard power-off
	actionTimeout  = 2 * time.Minute
	removeTimeout  = 5 * time.Minute
	pollInitial    = 250 * time.Millisecond
	pollMax        = 3 * time.Second
	addressTimeout = 2 * time.Minute // DHCP lease on the host-only adapter after SSH answers
)

// Driver manages one VirtualBox VM. Exported fields are its config.json
// state; the first group carries the stock driver's names and meanings.
type Driver struct {
	logger *slog.Logger `json:"-"` // nil: slog.Default() at each call
	*drivers.BaseDriver

	CPU                 int
	Memory              int
	DiskSize            int
	NatNicType          string
	Boot2DockerURL      string
	Boot2DockerImportVM string
	HostDNSResolver     bool
	HostOnlyCIDR        string
	HostOnlyNicType     string
	HostOnlyPromiscMode string
	UIType              string
	HostOnlyNoDHCP      bool
	NoShare             bool
	DNSProxy            bool
	NoVTXCheck          bool
	ShareFolder         string

	// Additions. A config without Guest was written by the stock driver:
	// a boot2docker VM on a host-only adapter.
	Guest         string `json:",omitempty"`
	ImageURL      string `json:",omitempty"`
	ImageChecksum string `json:",omitempty"`
	NetworkMode   string `json:",omitempty"` // as asked: auto, hostonly, hostonlynet, nat
	Network       string `json:",omitempty"` // as set up: hostonly, hostonlynet, nat
	MachineID     string `json:",omitempty"`

	NATMAC            string `json:",omitempty"`
	HostOnlyMAC       string `json:",omitempty"`
	HostOnlyInterface string `json:",omitempty"` // vboxnetN
	HostOnlyNetwork   string `json:",omitempty"` // hostonlynet name
	HostOnlyCreated   bool   `json:",omitempty"` // this machine made the adapter or network
	DHCPServerCreated bool   `json:",omitempty"` // this machine made its DHCP server
	// DHCPServerOriginal holds the settings of a DHCP server that existed
	// for an adapter this machine made, for rm to put back.
	DHCPServerOriginal string `json:",omitempty"`
	DockerPort         int    `json:",omitempty"` // NAT forward of 2376 on 127.0.0.1 (network nat)
	VMCreated          bool   `json:",omitempty"`
	DiskCreated        bool   `json:",omitempty"`

	mu            sync.Mutex
	vbox          runner
	vboxVer       version
	calls         int
	phases        []Phase
	preparedImage image
}

// Phase is how long one step of a create took.
type Phase = rollback.Phase

// NewDriver returns a driver for machine hostName in the store at
// storePath, with the stock defaults.
func NewDriver(hostName, storePath string) *Driver {
	return &Driver{
		BaseDriver:          &drivers.BaseDriver{MachineName: hostName, StorePath: storePath, SSHUser: defaultSSHUser},
		CPU:                 defaultCPU,
		Memory:              defaultMemory,
		DiskSize:            defaultDiskSize,
		NatNicType:          defaultNICType,
		HostOnlyCIDR:        defaultHostOnlyCIDR,
		HostOnlyNicType:     defaultNICType,
		HostOnlyPromiscMode: defaultPromiscMode,
		UIType:              defaultUIType,
		DNSProxy:            true,
		ImageURL:            defaultImageURL(),
		NetworkMode:         networkAuto,
	}
}

var (
	_ drivers.Driver             = (*Driver)(nil)
	_ capability.Cancellable     = (*Driver)(nil)
	_ capability.AddressReporter = (*Driver)(nil)
	_ capability.EngineForwarder = (*Driver)(nil)
)

// DriverName returns "virtualbox".
func (d *Driver) DriverName() string { return Name }

func logger() *slog.Logger { return slog.Default() }

func (d *Driver) log() *slog.Logger { return instance.Log(d.logger, d.MachineName) }

// SetLogger makes the driver log through l: the CLI hands it the logger of
// the command, so a built-in driver's lines join the command's progress.
func (d *Driver) SetLogger(l *slog.Logger) { d.logger = l }

// vbm runs one VBoxManage command.
func (d *Driver) vbm(ctx context.Context, args ...string) (string, error) {
	return d.vbmInput(ctx, nil, args...)
}

func (d *Driver) vbmInput(ctx context.Context, stdin io.Reader, args ...string) (string, error) {
	r, err := d.runner(ctx)
	if err != nil {
		return "", err
	}
	d.mu.Lock()
	d.calls++
	d.mu.Unlock()
	return r.run(ctx, stdin, args...)
}

// runner finds VBoxManage and checks its version, once.
func (d *Driver) runner(ctx context.Context) (runner, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.vbox != nil {
		return d.vbox, nil
	}
	path, err := findVBoxManage()
	if err != nil {
		return nil, err
	}
	r := execRunner{path: path}
	out, err := r.run(ctx, nil, "--version")
	if err != nil {
		return nil, fmt.Errorf("checking the VirtualBox version with %s: %w", path, err)
	}
	v, err := parseVersion(out)
	if err != nil {
		return nil, err
	}
	if err := checkVersion(v); err != nil {
		return nil, err
	}
	d.calls++
	d.vbox, d.vboxVer = r, v
	logger().Debug("using VBoxManage", "path", path, "version", v.String())
	return r, nil
}

// version returns VirtualBox's version (after runner).
func (d *Driver) version(ctx context.Context) (version, error) {
	if _, err := d.runner(ctx); err != nil {
		return version{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.vboxVer, nil
}

// Calls is how many VBoxManage commands this driver value has run.
func (d *Driver) Calls() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls
}

// GetSSHHostname is 127.0.0.1: SSH always goes over the NAT forward.
func (d *Driver) GetSSHHostname() (string, error) { return loopback, nil }

// GetSSHUsername is "docker", the user of boot2docker and of the seed.
func (d *Driver) GetSSHUsername() string { return cmp.Or(d.SSHUser, defaultSSHUser) }

// vmInfo reads showvminfo.
func (d *Driver) vmInfo(ctx context.Context) (vmInfo, error) {
	out, err := d.vbm(ctx, "showvminfo", d.MachineName, "--machinereadable")
	if err != nil {
		if errors.Is(err, ErrMachineNotExist) {
			return nil, errNoVM(d.MachineName)
		}
		return nil, err
	}
	return parseVMInfo(out), nil
}

// GetState reads the VM's state from showvminfo.
func (d *Driver) GetState() (state.State, error) {
	ctx, cancel := context.WithTimeout(context.Background(), actionTimeout)
	defer cancel()
	return d.GetStateContext(ctx)
}

// GetStateContext is GetState on ctx.
func (d *Driver) GetStateContext(ctx context.Context) (state.State, error) {
	info, err := d.vmInfo(ctx)
	if err != nil {
		return state.Error, err
	}
	return info.state(), nil
}

// GetIP is the address Docker is reached at: the guest's host-only
// address, or 127.0.0.1 when Docker is forwarded over NAT. Like stock, it
// fails when the VM is not running.
func (d *Driver) GetIP() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), actionTimeout)
	defer cancel()
	return d.ip(ctx)
}

func (d *Driver) ip(ctx context.Context) (string, error) {
	st, err := d.GetStateContext(ctx)
	if err != nil {
		return "", err
	}
	if st != state.Running {
		return "", drivers.ErrHostIsNotRunning
	}
	if ip, ok := d.knownIP(); ok {
		return ip, nil
	}
	ip, err := d.discoverIP(ctx)
	if err != nil {
		return "", err
	}
	d.IPAddress = ip
	return ip, nil
}

// network is how Docker is reached; stock machines use a host-only adapter.
func (d *Driver) network() string {
	if d.Network == "" {
		return networkHostOnly
	}
	return d.Network
}

// EnginePort is the port Docker listens on inside the VM: 2376, also when
// the URL's port is a NAT forward on 127.0.0.1.
func (d *Driver) EnginePort() int { return dockerPort }

// GetURL is tcp://IP:2376 on the host-only address, or the forwarded port
// on 127.0.0.1.
func (d *Driver) GetURL() (string, error) {
	ip, err := d.GetIP()
	if err != nil || ip == "" {
		return "", err
	}
	return d.urlAt(ip), nil
}

// knownIP is the address of a running VM when it needs no look-up: the
// NAT forward's loopback, or the stored host-only address.
func (d *Driver) knownIP() (string, bool) {
	if d.network() == networkNAT {
		return loopback, true
	}
	return d.IPAddress, d.IPAddress != ""
}

// urlAt is the Docker URL at the VM's address ip.
func (d *Driver) urlAt(ip string) string {
	port := dockerPort
	if d.network() == networkNAT {
		port = d.DockerPort
	}
	return "tcp://" + net.JoinHostPort(ip, strconv.Itoa(port))
}

// Addresses are the addresses the server certificate must cover: the
// host-only address, or 127.0.0.1 when Docker is reached over NAT.
func (d *Driver) Addresses(ctx context.Context) (capability.Addresses, error) {
	ip, err := d.ip(ctx)
	if err != nil {
		return capability.Addresses{}, err
	}
	if ip == loopback {
		return capability.Addresses{Public: []string{ip}}, nil
	}
	return capability.Addresses{Private: []string{ip}}, nil
}

// String names the machine for %v.
func (d *Driver) String() string {
	return fmt.Sprintf("virtualbox machine %q", d.MachineName)
}
