// Package amazonec2 is the docker-machine driver for Amazon EC2, on the
// current AWS SDK (aws-sdk-go-v2).
//
// It keeps every flag and env var of docker-machine 0.16.2's and
// rancher-machine's amazonec2 driver with the same meaning, and reads the
// config.json those drivers wrote (the field names are theirs). The client
// follows --amazonec2-endpoint, which is how tests point the driver at the
// local simulator.
//
// What a create makes, and what rm (or a failed create) removes again, in
// reverse order:
//
//	key pair        generated and imported under a unique name (unless --amazonec2-keypair-name)
//	security groups found by id or by name in the VPC, or created (SSH and Docker only)
//	instance        RunInstances with a ClientToken, tagged at launch with its volumes and interfaces
//	spot request    with --amazonec2-request-spot-instance (one-time, made by RunInstances)
//
// Everything it creates carries the tag docker-machine-id=<Id>, so a create
// interrupted before its IDs were stored is still cleaned up by rm. A
// security group it created also carries docker-machine-managed=true: the
// rm of the last machine using it deletes it; groups made by hand are never
// deleted.
package amazonec2

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/docker/machine/libmachine/drivers"
	"github.com/docker/machine/libmachine/state"

	"github.com/fleetdock/machine/drivers/internal/instance"
	"github.com/fleetdock/machine/drivers/internal/rollback"
	"github.com/fleetdock/machine/libmachine/capability"
)

// Name is the driver's name as used with --driver.
const Name = "amazonec2"

// Tags docker-machine puts on what it creates.
const (
	tagMachineID   = "docker-machine-id"
	tagMachineName = "docker-machine-name"
	tagManaged     = "docker-machine-managed"
)

// Driver manages one EC2 instance and the resources made for it. Fields are
// its config.json state; the names are those of the stock driver, so a
// machine it created can be managed and removed by this one.
type Driver struct {
	logger *slog.Logger `json:"-"` // nil: slog.Default() at each call
	*drivers.BaseDriver

	// Id is random per machine and tags every resource made for it.
	Id string

	// Sensitive. Stored only when given as flags, as the stock driver
	// stores them; credentials from the environment, shared files, SSO or
	// roles are resolved again at every load. Never logged.
	AccessKey    string `json:",omitempty"`
	SecretKey    string `json:",omitempty"`
	SessionToken string `json:",omitempty"`
	Profile      string `json:",omitempty"`

	Region       string
	AMI          string
	InstanceType string
	VpcId        string
	SubnetId     string
	Zone         string

	ExistingKey       bool
	KeyName           string
	SSHPrivateKeyPath string

	// The security groups the instance uses, by name and as given by id;
	// SecurityGroupIds are all of them, resolved. The singular fields are
	// the stock driver's pre-2016 forms, read for old machines.
	SecurityGroupId         string `json:",omitempty"`
	SecurityGroupIds        []string
	SecurityGroupName       string `json:",omitempty"`
	SecurityGroupNames      []string
	GivenSecurityGroupIds   []string `json:",omitempty"`
	CreatedSecurityGroupIds []string `json:",omitempty"`
	SecurityGroupReadOnly   bool
	OpenPorts               []string
	SourceCIDRs             []string `json:",omitempty"`
	Tags                    string
	DeviceName              string
	RootSize                int64
	VolumeType              string
	VolumeIops              int32 `json:",omitempty"`
	VolumeThroughput        int32 `json:",omitempty"`
	EncryptEbsVolume        bool
	KmsKeyId                string `json:",omitempty"`
	RootVolumeEncrypted     bool   `json:",omitempty"`
	IamInstanceProfile      string
	RequestSpotInstance     bool
	SpotPrice               string
	BlockDurationMinutes    int64
	SpotInstanceRequestId   string `json:",omitempty"`
	PrivateIPOnly           bool
	UsePrivateIP            bool
	UseEbsOptimizedInstance bool
	Monitoring              bool
	RetryCount              int
	Endpoint                string
	DisableSSL              bool
	UserDataFile            string
	HttpEndpoint            string `json:",omitempty"`
	HttpTokens              string `json:",omitempty"`
	HttpProtocolIpv6        string `json:",omitempty"`
	Ipv6AddressCount        int32  `json:",omitempty"`
	EnablePrimaryIpv6       bool   `json:",omitempty"`
	Ipv6AddressOnly         bool   `json:",omitempty"`
	InstanceId              string
	ReservationId           string
	PrivateIPAddress        string
	PublicIPAddress         string `json:",omitempty"`
	IPv6Address             string `json:",omitempty"`

	mu       sync.Mutex
	client   *api
	prepared bool
	// instanceStoreRoot: the AMI boots from an instance store, so the
	// root block device mapping is not sent.
	instanceStoreRoot bool
	phases            []rollback.Phase
}

// The capabilities the core asks drivers for.
var (
	_ drivers.Driver              = (*Driver)(nil)
	_ capability.AddressReporter  = (*Driver)(nil)
	_ capability.Cancellable      = (*Driver)(nil)
	_ capability.ResourceReporter = (*Driver)(nil)
)

// NewDriver returns a driver for machine hostName in the store at storePath.
func NewDriver(hostName, storePath string) *Driver {
	return &Driver{
		BaseDriver:         &drivers.BaseDriver{MachineName: hostName, StorePath: storePath, SSHUser: defaultSSHUser, SSHPort: defaultSSHPort},
		Region:             defaultRegion,
		InstanceType:       defaultInstanceType,
		Zone:               defaultZone,
		SecurityGroupNames: []string{defaultSecurityGroup},
		RootSize:           defaultRootSize,
		VolumeType:         defaultVolumeType,
		SpotPrice:          defaultSpotPrice,
		RetryCount:         defaultRetries,
		HttpTokens:         defaultHTTPTokens,
		SourceCIDRs:        []string{defaultSourceCIDR},
	}
}

// DriverName returns "amazonec2".
func (d *Driver) DriverName() string { return Name }

// logger is slog.Default at the time of the call, so the CLI's or the
// plugin's configuration applies.
func logger() *slog.Logger { return slog.Default() }

func (d *Driver) log() *slog.Logger { return instance.Log(d.logger, d.MachineName) }

// SetLogger makes the driver log through l: the CLI hands it the logger of
// the command, so a built-in driver's lines join the command's progress.
func (d *Driver) SetLogger(l *slog.Logger) { d.logger = l }

// api returns the client, creating it on first use. Credentials are
// resolved here, so keys from the environment or a profile work after a
// load.
func (d *Driver) api(ctx context.Context) (*api, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.client != nil {
		return d.client, nil
	}
	ep, err := endpointURL(d.Endpoint, d.DisableSSL)
	if err != nil {
		return nil, err
	}
	c, err := newAPI(ctx, clientConfig{
		region:       d.Region,
		endpoint:     ep,
		profile:      d.Profile,
		accessKey:    d.AccessKey,
		secretKey:    d.SecretKey,
		sessionToken: d.SessionToken,
		retries:      d.RetryCount,
	})
	if err != nil {
		return nil, fmt.Errorf("machine %q: %w", d.MachineName, err)
	}
	d.log().Debug("EC2 client ready", "region", d.Region, "endpoint", ep, "credentials", c.source)
	d.client = c
	return c, nil
}

// regionZone is the full availability zone: the stock driver takes a
// letter and appends it to the region; a full name is used as given.
func (d *Driver) regionZone() string {
	z := d.Zone
	if z == "" {
		z = defaultZone
	}
	if strings.HasPrefix(z, d.Region) || strings.Contains(z, "-") {
		return z
	}
	return d.Region + z
}

// securityGroupIds is every group of the instance, old stores included.
func (d *Driver) securityGroupIds() []string {
	ids := slices.Clone(d.SecurityGroupIds)
	if d.SecurityGroupId != "" && !slices.Contains(ids, d.SecurityGroupId) {
		ids = append(ids, d.SecurityGroupId)
	}
	return ids
}

// GetSSHHostname is the address GetIP returns.
func (d *Driver) GetSSHHostname() (string, error) { return d.GetIP() }

// GetSSHUsername is the AMI's login user, ubuntu by default.
func (d *Driver) GetSSHUsername() string { return cmp.Or(d.SSHUser, defaultSSHUser) }

// GetIP returns the stored address the host is reached at: the public IP,
// the private IP with --amazonec2-private-address-only or
// --amazonec2-use-private-address, or the IPv6 address with
// --amazonec2-ipv6-address-only. It asks the API only when no address is
// stored yet.
func (d *Driver) GetIP() (string, error) { return d.instance().IP(actionTimeout) }

func (d *Driver) connectIP() string {
	switch {
	case d.Ipv6AddressOnly:
		return d.IPv6Address
	case d.PrivateIPOnly || d.UsePrivateIP:
		return d.PrivateIPAddress
	case d.PublicIPAddress != "":
		return d.PublicIPAddress
	}
	// Machines of the stock driver keep the public address only here.
	if d.IPAddress != d.PrivateIPAddress {
		return d.IPAddress
	}
	return ""
}

func (d *Driver) addressKind() string {
	switch {
	case d.Ipv6AddressOnly:
		return "IPv6"
	case d.PrivateIPOnly || d.UsePrivateIP:
		return "private"
	}
	return "public"
}

// GetURL is tcp://IP:2376, or "" while the host has no address (as stock).
func (d *Driver) GetURL() (string, error) {
	ip, err := d.GetIP()
	return instance.URL(ip, err, dockerPort)
}

// Addresses reports every address of the host as EC2 sees it now (a
// stop and start changes the public one), refreshing the stored ones.
func (d *Driver) Addresses(ctx context.Context) (capability.Addresses, error) {
	if d.InstanceId != "" {
		inst, err := d.describeInstance(ctx)
		if err != nil {
			return capability.Addresses{}, err
		}
		d.recordAddresses(inst)
	}
	var a capability.Addresses
	if d.PublicIPAddress != "" {
		a.Public = []string{d.PublicIPAddress}
	}
	if d.PrivateIPAddress != "" {
		a.Private = []string{d.PrivateIPAddress}
	}
	if d.IPv6Address != "" {
		a.IPv6 = []string{d.IPv6Address}
	}
	return a, nil
}

// GetStateContext is GetState bounded by ctx.
func (d *Driver) GetStateContext(ctx context.Context) (state.State, error) {
	return d.instance().GetState(ctx, actionTimeout)
}

// instanceState maps every EC2 instance state to a docker-machine state.
func instanceState(name types.InstanceStateName) state.State {
	switch name {
	case types.InstanceStateNamePending:
		return state.Starting
	case types.InstanceStateNameRunning:
		return state.Running
	case types.InstanceStateNameStopping, types.InstanceStateNameShuttingDown:
		return state.Stopping
	case types.InstanceStateNameStopped:
		return state.Stopped
	case types.InstanceStateNameTerminated:
		return state.Error
	}
	return state.None
}

func instanceStateName(inst *types.Instance) types.InstanceStateName {
	if inst.State == nil {
		return ""
	}
	return inst.State.Name
}

// describeInstance fetches this machine's instance; a terminated one is
// reported as gone.
func (d *Driver) describeInstance(ctx context.Context) (*types.Instance, error) {
	a, err := d.api(ctx)
	if err != nil {
		return nil, err
	}
	inst, err := a.instance(ctx, d.InstanceId)
	return instance.Found(d.MachineName, d.InstanceId, inst, err, inst == nil || instanceStateName(inst) == types.InstanceStateNameTerminated)
}

// instance is the machine's instance as the shared look-ups need it.
func (d *Driver) instance() instance.Instance[types.Instance] {
	return instance.Instance[types.Instance]{Machine: d.MachineName, ID: d.InstanceId, Kind: d.addressKind(),
		Stored: d.connectIP, Keep: func(ip string) { d.IPAddress = ip },
		Describe: d.describeInstance, Record: d.recordAddresses, State: status}
}

// status maps an instance's answer for the shared look-ups.
func status(inst *types.Instance) (state.State, string) {
	name := instanceStateName(inst)
	return instanceState(name), "state " + string(name)
}

// recordAddresses stores the instance's addresses from an API answer.
func (d *Driver) recordAddresses(inst *types.Instance) {
	d.PrivateIPAddress = deref(inst.PrivateIpAddress)
	d.PublicIPAddress = deref(inst.PublicIpAddress)
	d.IPv6Address = deref(inst.Ipv6Address)
	if d.IPv6Address == "" {
		for _, ni := range inst.NetworkInterfaces {
			for _, a := range ni.Ipv6Addresses {
				if v := deref(a.Ipv6Address); v != "" {
					d.IPv6Address = v
					break
				}
			}
		}
	}
	d.IPAddress = ""
	d.IPAddress = d.connectIP()
}

// StartContext is Start bounded by ctx.
func (d *Driver) StartContext(ctx context.Context) error {
	return d.instanceAction(ctx, "start", func(ctx context.Context, a *api) error {
		_, err := a.ec2.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{d.InstanceId}})
		return err
	})
}

// StopContext is Stop bounded by ctx.
func (d *Driver) StopContext(ctx context.Context) error {
	return d.instanceAction(ctx, "stop", func(ctx context.Context, a *api) error {
		_, err := a.ec2.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{d.InstanceId}})
		return err
	})
}

// KillContext is Kill bounded by ctx.
func (d *Driver) KillContext(ctx context.Context) error {
	return d.instanceAction(ctx, "kill", func(ctx context.Context, a *api) error {
		_, err := a.ec2.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{d.InstanceId}, Force: ptr(true)})
		return err
	})
}

// RestartContext is Restart bounded by ctx.
func (d *Driver) RestartContext(ctx context.Context) error {
	return d.instanceAction(ctx, "restart", func(ctx context.Context, a *api) error {
		_, err := a.ec2.RebootInstances(ctx, &ec2.RebootInstancesInput{InstanceIds: []string{d.InstanceId}})
		return err
	})
}

func (d *Driver) instanceAction(ctx context.Context, verb string, do func(context.Context, *api) error) error {
	if d.InstanceId == "" {
		return fmt.Errorf("cannot %s machine %q: it has no instance", verb, d.MachineName)
	}
	ctx, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()
	a, err := d.api(ctx)
	if err != nil {
		return err
	}
	if err := do(ctx, a); err != nil {
		hint := ""
		switch code := errorCode(err); {
		case isNotFound(err):
			hint = fmt.Sprintf("; the instance is gone, run 'docker-machine rm %s'", d.MachineName)
		case code == "IncorrectInstanceState" || code == "IncorrectState":
			hint = fmt.Sprintf("; check 'docker-machine status %s' and try again once the instance is no longer changing state", d.MachineName)
		case code == "UnsupportedOperation" && d.RequestSpotInstance:
			hint = "; one-time spot instances cannot be stopped and started, only rebooted or removed"
		}
		return fmt.Errorf("cannot %s instance %s of machine %q: %w%s", verb, d.InstanceId, d.MachineName, err, hint)
	}
	if verb == "start" || verb == "kill" || verb == "stop" {
		// The public address changes across a stop and start.
		d.PublicIPAddress, d.IPAddress = "", ""
	}
	d.log().Info("instance "+verb+" requested", "instance", d.InstanceId)
	return nil
}

// The plain drivers.Driver calls run their context forms.

// PreCreateCheck checks everything that needs the cloud before anything is
// made: credentials, VPC, subnet and zone, AMI, EBS encryption and an
// existing key pair. The answers are kept, so Create does not ask again.
func (d *Driver) PreCreateCheck() error { return d.PreCreateCheckContext(context.Background()) }

// Create makes the instance and everything it needs.
func (d *Driver) Create() error { return d.CreateContext(context.Background()) }

// Remove deletes everything made for the machine: instance (in any state),
// spot request, key pair (unless it was an existing one), and the security
// groups docker-machine created once no other instance uses them. A
// resource already gone counts as removed, so Remove can run again after a
// partial failure; IDs missing from the stored config are found by the
// machine's tag.
func (d *Driver) Remove() error { return d.RemoveContext(context.Background()) }

// GetState maps the instance state. The answer also refreshes the stored
// addresses, so a changed IP costs no extra call.
func (d *Driver) GetState() (state.State, error) { return d.GetStateContext(context.Background()) }

// Start starts a stopped instance.
func (d *Driver) Start() error { return d.StartContext(context.Background()) }

// Stop stops the instance gracefully.
func (d *Driver) Stop() error { return d.StopContext(context.Background()) }

// Kill stops the instance at once (a forced stop).
func (d *Driver) Kill() error { return d.KillContext(context.Background()) }

// Restart reboots the instance.
func (d *Driver) Restart() error { return d.RestartContext(context.Background()) }

// LogValue keeps secrets out of structured logs that print the driver.
func (d *Driver) LogValue() slog.Value {
	return instance.LogValue(d.MachineName, d.Region, d.InstanceId, d.AccessKey != "")
}

// String keeps secrets out of %v and %s.
func (d *Driver) String() string { return instance.String(Name, d.MachineName, d.Region, d.InstanceId) }

// GoString keeps secrets out of %#v.
func (d *Driver) GoString() string { return d.String() }

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
