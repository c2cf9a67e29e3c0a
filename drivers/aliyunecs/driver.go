// Package aliyunecs is the docker-machine driver for Alibaba Cloud ECS.
//
// It keeps every flag and env var of the earlier aliyunecs driver
// (AliyunContainerService/docker-machine-driver-aliyunecs) with the same
// meaning and talks to ECS, VPC and SLB through the official
// alibaba-cloud-sdk-go. All three clients follow --aliyunecs-api-endpoint,
// which is how tests point the driver at the local simulator.
//
// What a create makes, and what rm (or a failed create) removes again, in
// reverse order:
//
//	key pair        imported from a generated key, named after the machine
//	security group  found by name in the VPC, or created (SSH + Docker only)
//	instance        RunInstances with a ClientToken, tagged at creation
//	route entry     --aliyunecs-route-cidr to the instance
//	EIP             with --aliyunecs-eip
//	SLB backend     with --aliyunecs-slb-id
//
// Every resource it creates carries the tag docker-machine-id=<MachineID>,
// so a create interrupted before its IDs were stored is still cleaned up by
// rm. The driver knows nothing about Docker: the data disk is recorded in
// the driver JSON ("DataDisk") for the provisioner to format and mount.
package aliyunecs

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/docker/machine/libmachine/drivers"
	"github.com/docker/machine/libmachine/state"

	"github.com/fleetdock/machine/drivers/internal/instance"
	"github.com/fleetdock/machine/drivers/internal/rollback"
	"github.com/fleetdock/machine/libmachine/capability"
)

// Name is the driver's name as used with --driver.
const Name = "aliyunecs"

// driverVersion goes into the SDK's User-Agent.
const driverVersion = "1.0"

// Tags docker-machine puts on everything it creates.
const (
	tagMachineID   = "docker-machine-id"
	tagMachineName = "docker-machine-name"
)

// DataDisk is the data disk the provisioner formats (when blank) and
// mounts on /var/lib/docker before Docker starts.
type DataDisk struct {
	Device string
	FS     string
}

// Driver manages one ECS instance and the resources made for it. Fields are
// its config.json state.
type Driver struct {
	*drivers.BaseDriver

	// Sensitive. Stored only when given as flags, as stock drivers store
	// theirs; keys from ECS_ACCESS_KEY_*, ALIBABA_CLOUD_*, profiles or the
	// RAM role are resolved again at every load. Never logged.
	AccessKey string `json:",omitempty"`
	SecretKey string `json:",omitempty"`
	// Sensitive. Never stored or logged: RunInstances is its only use.
	SSHPassword string `json:"-"`

	// MachineID is random per machine and tags every resource made for it.
	MachineID string

	APIEndpoint        string
	Region             string
	Zone               string
	VpcId              string
	VSwitchId          string
	ImageID            string
	InstanceType       string
	Description        string
	RequestedPrivateIP string
	ResourceGroupId    string
	IoOptimized        string
	UpgradeKernel      bool
	UserDataFile       string

	SecurityGroupName    string
	SecurityGroupId      string
	SecurityGroupCreated bool
	SourceCIDR           string
	OpenPorts            []string
	SwarmPort            int `json:",omitempty"`

	// SSHKey is --aliyunecs-ssh-keypath; Create copies it to SSHKeyPath.
	SSHKey          string
	KeyPairName     string
	ExistingKeyPair bool
	KeyPairCreated  bool

	PrivateIPOnly           bool
	UsePrivateIP            bool
	InternetMaxBandwidthOut int
	InternetChargeType      string
	PublicIPAddress         string
	PrivateIPAddress        string

	UseEIP          bool
	EIPAllocationId string
	EIPAddress      string

	RouteCIDR         string
	RouteTableId      string
	RouteEntryCreated bool

	SLBID           string
	SLBIPAddress    string
	SLBWeight       int
	SLBBackendAdded bool

	Tags               map[string]string
	DiskSize           int
	DiskFS             string
	DiskCategory       string
	SystemDiskSize     int
	SystemDiskCategory string
	AttachedDisk       *DataDisk `json:"DataDisk,omitempty"`

	InstanceId string

	mu       sync.Mutex
	phases   []rollback.Phase
	client   *api
	prepared bool
	logger   *slog.Logger `json:"-"` // nil: slog.Default() at each call
}

// NewDriver returns a driver for machine hostName in the store at storePath.
func NewDriver(hostName, storePath string) *Driver {
	return &Driver{
		BaseDriver:              &drivers.BaseDriver{MachineName: hostName, StorePath: storePath, SSHUser: defaultSSHUser, SSHPort: defaultSSHPort},
		Region:                  defaultRegion,
		InstanceType:            defaultInstanceType,
		SecurityGroupName:       defaultSecurityGroup,
		SourceCIDR:              defaultSourceCIDR,
		InternetMaxBandwidthOut: defaultBandwidth,
		InternetChargeType:      defaultChargeType,
		SystemDiskSize:          defaultSystemDiskSize,
		DiskFS:                  defaultDiskFS,
		SLBWeight:               defaultSLBWeight,
	}
}

// DriverName returns "aliyunecs".
func (d *Driver) DriverName() string { return Name }

// SetLogger makes the driver log through l: the CLI hands it the logger of
// the command it runs in. Without one (as a plugin binary) it logs through
// slog.Default() at the time of each call, so the plugin's own
// configuration applies.
func (d *Driver) SetLogger(l *slog.Logger) { d.logger = l }

// baseLogger is the injected logger, else slog's default one.
func (d *Driver) baseLogger() *slog.Logger {
	if d.logger != nil {
		return d.logger
	}
	return slog.Default()
}

func (d *Driver) log() *slog.Logger { return d.baseLogger().With("machine", d.MachineName) }

// api returns the clients, creating them on first use. Credentials are
// resolved here, so keys from the environment work after a load.
func (d *Driver) api() (*api, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.client != nil {
		return d.client, nil
	}
	ep, err := parseEndpoint(d.APIEndpoint)
	if err != nil {
		return nil, err
	}
	cfg := clientConfig{region: d.Region, endpoint: ep}
	if ep.host == "" {
		// The earlier driver's SDK honoured these; keep them working.
		for _, e := range []struct {
			env string
			dst *endpoint
		}{{"ECS_ENDPOINT", &cfg.ecsEndpoint}, {"VPC_ENDPOINT", &cfg.vpcEndpoint}, {"SLB_ENDPOINT", &cfg.slbEndpoint}} {
			if v := os.Getenv(e.env); v != "" {
				if *e.dst, err = parseEndpoint(v); err != nil {
					return nil, fmt.Errorf("%s: %w", e.env, err)
				}
			}
		}
	}
	provider, source, secrets := resolveCredentials(d.AccessKey, d.SecretKey)
	more, err := checkCredentials(provider)
	if err != nil {
		return nil, err
	}
	cfg.provider, cfg.source, cfg.secrets = provider, source, append(secrets, more...)
	if d.SSHPassword != "" {
		cfg.secrets = append(cfg.secrets, d.SSHPassword)
	}
	c, err := newAPI(cfg)
	if err != nil {
		return nil, err
	}
	c.log = d.baseLogger()
	d.log().Debug("Alibaba Cloud clients ready", "region", d.Region, "endpoint", ep.host, "credentials", source.String())
	d.client = c
	return c, nil
}

// GetSSHHostname is the address GetIP returns.
func (d *Driver) GetSSHHostname() (string, error) { return d.GetIP() }

// GetSSHUsername is root, the user ECS installs key pairs for.
func (d *Driver) GetSSHUsername() string { return cmp.Or(d.SSHUser, defaultSSHUser) }

// GetIP returns the stored address the host is reached at: the public IP
// or EIP, or the private IP with --aliyunecs-private-address-only or
// --aliyunecs-use-private-address. It asks the API only when no address is
// stored yet.
func (d *Driver) GetIP() (string, error) { return d.instance().IP(actionTimeout) }

func (d *Driver) connectIP() string {
	if d.PrivateIPOnly || d.UsePrivateIP {
		return d.PrivateIPAddress
	}
	if d.EIPAddress != "" {
		return d.EIPAddress
	}
	return d.PublicIPAddress
}

func (d *Driver) addressKind() string {
	if d.PrivateIPOnly || d.UsePrivateIP {
		return "private"
	}
	return "public"
}

// Addresses reports every address of the host from the stored state: the
// EIP and public IP, and the private IP. The server certificate covers all
// of them; swarm nodes talk over the private one.
func (d *Driver) Addresses(context.Context) (capability.Addresses, error) {
	if d.EIPAddress == "" && d.PublicIPAddress == "" && d.PrivateIPAddress == "" {
		if _, err := d.GetIP(); err != nil {
			return capability.Addresses{}, err
		}
	}
	var a capability.Addresses
	for _, ip := range []string{d.EIPAddress, d.PublicIPAddress} {
		if ip != "" && !slices.Contains(a.Public, ip) {
			a.Public = append(a.Public, ip)
		}
	}
	if d.PrivateIPAddress != "" {
		a.Private = []string{d.PrivateIPAddress}
	}
	return a, nil
}

// DataDisk is the disk --aliyunecs-disk-size attached, for the provisioner
// to format and mount on /var/lib/docker; nil without one.
func (d *Driver) DataDisk() (*capability.DataDisk, error) {
	if d.AttachedDisk == nil || d.AttachedDisk.Device == "" {
		return nil, nil
	}
	return &capability.DataDisk{Device: d.AttachedDisk.Device, FS: d.AttachedDisk.FS}, nil
}

// GetURL is tcp://IP:2376, or "" while the host has no address (as stock).
func (d *Driver) GetURL() (string, error) {
	ip, err := d.GetIP()
	return instance.URL(ip, err, defaultEnginePort)
}

// GetStateContext is GetState, stopped when ctx ends.
func (d *Driver) GetStateContext(ctx context.Context) (state.State, error) {
	return d.instance().GetState(ctx, actionTimeout)
}

// instanceState maps every ECS instance status to a docker-machine state.
func instanceState(status string) state.State {
	switch status {
	case "Pending", "Starting":
		return state.Starting
	case "Running":
		return state.Running
	case "Stopping":
		return state.Stopping
	case "Stopped":
		return state.Stopped
	case "Expired", "Deleted", "Released":
		return state.Error
	}
	return state.None
}

var errInstanceGone = instance.ErrGone

// describeInstance fetches this machine's instance.
func (d *Driver) describeInstance(ctx context.Context) (*ecs.Instance, error) {
	a, err := d.api()
	if err != nil {
		return nil, err
	}
	inst, err := a.findInstance(ctx, d.InstanceId)
	return instance.Found(d.MachineName, d.InstanceId, inst, err, inst == nil)
}

// instance is the machine's instance as the shared look-ups need it.
func (d *Driver) instance() instance.Instance[ecs.Instance] {
	return instance.Instance[ecs.Instance]{Machine: d.MachineName, ID: d.InstanceId, Kind: d.addressKind(),
		Stored: d.connectIP, Keep: func(ip string) { d.IPAddress = ip },
		Describe: d.describeInstance, Record: d.recordAddresses, State: status}
}

// status maps an instance's answer for the shared look-ups.
func status(inst *ecs.Instance) (state.State, string) {
	return instanceState(inst.Status), "status " + inst.Status
}

// recordAddresses stores the instance's addresses from an API answer.
func (d *Driver) recordAddresses(inst *ecs.Instance) {
	if ips := inst.VpcAttributes.PrivateIpAddress.IpAddress; len(ips) > 0 {
		d.PrivateIPAddress = ips[0]
	} else if ips := inst.InnerIpAddress.IpAddress; len(ips) > 0 {
		d.PrivateIPAddress = ips[0]
	}
	if ip := inst.EipAddress.IpAddress; ip != "" {
		d.EIPAddress = ip
		if d.EIPAllocationId == "" {
			d.EIPAllocationId = inst.EipAddress.AllocationId
		}
	}
	if ips := inst.PublicIpAddress.IpAddress; len(ips) > 0 {
		d.PublicIPAddress = ips[0]
	} else {
		d.PublicIPAddress = ""
	}
	d.IPAddress = d.connectIP()
}

// StartContext starts a stopped instance.
func (d *Driver) StartContext(ctx context.Context) error {
	return d.instanceAction(ctx, "start", func(ctx context.Context, a *api) error {
		req := ecs.CreateStartInstanceRequest()
		req.InstanceId = d.InstanceId
		err := a.call(ctx, &a.ecs.Client, req, ecs.CreateStartInstanceResponse())
		if err != nil && a.underway(ctx, d.InstanceId, err, "Starting", "Running") {
			return nil
		}
		return err
	})
}

// StopContext stops the instance gracefully. KeepCharging keeps its public IP.
func (d *Driver) StopContext(ctx context.Context) error {
	return d.instanceAction(ctx, "stop", func(ctx context.Context, a *api) error {
		return a.stopInstance(ctx, d.InstanceId, false)
	})
}

// KillContext stops the instance at once, like pulling the power.
func (d *Driver) KillContext(ctx context.Context) error {
	return d.instanceAction(ctx, "kill", func(ctx context.Context, a *api) error {
		return a.stopInstance(ctx, d.InstanceId, true)
	})
}

// RestartContext reboots the instance.
func (d *Driver) RestartContext(ctx context.Context) error {
	return d.instanceAction(ctx, "restart", func(ctx context.Context, a *api) error {
		req := ecs.CreateRebootInstanceRequest()
		req.InstanceId = d.InstanceId
		return a.call(ctx, &a.ecs.Client, req, ecs.CreateRebootInstanceResponse())
	})
}

func (d *Driver) instanceAction(ctx context.Context, verb string, do func(context.Context, *api) error) error {
	if d.InstanceId == "" {
		return fmt.Errorf("cannot %s machine %q: it has no instance", verb, d.MachineName)
	}
	a, err := d.api()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()
	if err := do(ctx, a); err != nil {
		hint := ""
		switch {
		case isNotFound(err):
			hint = fmt.Sprintf("; the instance is gone, run 'docker-machine rm %s'", d.MachineName)
		case strings.HasPrefix(errorCode(err), "IncorrectInstanceStatus"):
			hint = fmt.Sprintf("; check 'docker-machine status %s' and try again once the instance is no longer changing state", d.MachineName)
		}
		return fmt.Errorf("cannot %s instance %s of machine %q: %w%s", verb, d.InstanceId, d.MachineName, err, hint)
	}
	d.log().Info("instance "+verb+" requested", "instance", d.InstanceId)
	return nil
}

// The plain drivers.Driver calls run their context forms.

// PreCreateCheck checks everything that needs the cloud before anything is
// made: credentials, region (DescribeRegions), VPC/VSwitch/zone, image, SLB
// and key pair name. The answers are kept, so Create does not ask again.
func (d *Driver) PreCreateCheck() error { return d.PreCreateCheckContext(context.Background()) }

// Create makes the instance and everything it needs. If any step fails,
// what was made so far is removed again, in reverse order; if that also
// fails, the error lists what is left and the IDs stay stored for rm.
func (d *Driver) Create() error { return d.CreateContext(context.Background()) }

// Remove deletes everything made for the machine: SLB backend, route
// entry, EIP, instance (running or not), key pair and the security group
// when docker-machine made it and nothing else uses it. A resource that is
// already gone counts as removed, so Remove can run again after a partial
// failure; IDs missing from the stored config are found by the machine's
// tag.
func (d *Driver) Remove() error { return d.RemoveContext(context.Background()) }

// GetState maps the instance status. The answer also refreshes the stored
// addresses, so a changed IP costs no extra call.
func (d *Driver) GetState() (state.State, error) { return d.GetStateContext(context.Background()) }

// The plain drivers.Driver calls run their context forms.
func (d *Driver) Start() error { return d.StartContext(context.Background()) }

func (d *Driver) Stop() error { return d.StopContext(context.Background()) }

func (d *Driver) Kill() error { return d.KillContext(context.Background()) }

func (d *Driver) Restart() error { return d.RestartContext(context.Background()) }

// LogValue keeps secrets out of structured logs that print the driver.
func (d *Driver) LogValue() slog.Value {
	return instance.LogValue(d.MachineName, d.Region, d.InstanceId, d.AccessKey != "")
}

// String keeps secrets out of %v and %s.
func (d *Driver) String() string { return instance.String(Name, d.MachineName, d.Region, d.InstanceId) }
