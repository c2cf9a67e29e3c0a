package aliyunecs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/docker/machine/libmachine/drivers"
	"github.com/docker/machine/libmachine/mcnflag"

	"github.com/fleetdock/machine/drivers/internal/mkflag"
	"github.com/fleetdock/machine/drivers/internal/portrule"
)

// Defaults of the flags.
const (
	defaultRegion             = "cn-hangzhou"
	defaultInstanceType       = "ecs.n4.small"
	defaultSecurityGroup      = "docker-machine"
	defaultSSHUser            = "root"
	defaultSSHPort            = 22
	defaultEnginePort         = 2376
	defaultBandwidth          = 1
	defaultChargeType         = "PayByTraffic"
	defaultSystemDiskSize     = 40
	defaultDiskFS             = "ext4"
	defaultSourceCIDR         = "0.0.0.0/0"
	defaultSLBWeight          = 100
	maxUserDataBytes          = 32 * 1024
	dataDiskDevice            = "/dev/vdb"
	swarmDefaultPort          = 3376
	internetChargeByTraffic   = "PayByTraffic"
	internetChargeByBandwidth = "PayByBandwidth"
)

// GetCreateFlags lists every flag of the earlier aliyunecs driver with its
// name, env var and meaning, followed by this driver's additions.
func (d *Driver) GetCreateFlags() []mcnflag.Flag {
	return []mcnflag.Flag{
		mkflag.String("aliyunecs-access-key-id", "ECS_ACCESS_KEY_ID", "", "ECS access key ID (else ALIBABA_CLOUD_ACCESS_KEY_ID, ~/.alibabacloud/credentials, ~/.aliyun/config.json or the ECS RAM role)"),
		mkflag.String("aliyunecs-access-key-secret", "ECS_ACCESS_KEY_SECRET", "", "ECS access key secret"),
		mkflag.String("aliyunecs-image-id", "ECS_IMAGE_ID", "", "ECS image ID (default: the newest Ubuntu LTS system image of the region)"),
		mkflag.String("aliyunecs-region", "ECS_REGION", defaultRegion, "ECS region, checked against DescribeRegions"),
		mkflag.String("aliyunecs-vpc-id", "ECS_VPC_ID", "", "VPC ID (default: the VPC of the VSwitch, or the region's default VPC)"),
		mkflag.String("aliyunecs-vswitch-id", "ECS_VSWITCH_ID", "", "VSwitch ID (default: a VSwitch of the VPC in the zone, or the zone's default VSwitch)"),
		mkflag.String("aliyunecs-zone", "ECS_ZONE", "", "ECS zone (default: the VSwitch's zone, or any zone with a default VSwitch)"),
		mkflag.String("aliyunecs-security-group", "ECS_SECURITY_GROUP", defaultSecurityGroup, "security group name; found in the VPC or created with SSH and Docker rules only"),
		mkflag.String("aliyunecs-instance-type", "ECS_INSTANCE_TYPE", defaultInstanceType, "ECS instance type"),
		mkflag.String("aliyunecs-private-ip", "ECS_VPC_PRIVATE_IP", "", "private IP address for the instance in its VSwitch"),
		mkflag.String("aliyunecs-description", "ECS_DESCRIPTION", "", "description of the instance"),
		mkflag.String("aliyunecs-ssh-password", "ECS_SSH_PASSWORD", "", "root password set on the instance (never stored; docker-machine logs in with a key)"),
		mkflag.String("aliyunecs-ssh-keypair", "ECS_SSH_KEYPAIR", "", "existing ECS key pair to use; needs --aliyunecs-ssh-keypath with its private key"),
		mkflag.String("aliyunecs-ssh-keypath", "ECS_SSH_KEYPATH", "", "private key to log in with; KEYPATH.pub must exist (imported as the machine's key pair unless --aliyunecs-ssh-keypair is set)"),
		mkflag.Bool("aliyunecs-private-address-only", "ECS_PRIVATE_ADDR_ONLY", "give the instance no public address (the VPC then needs a NAT gateway for Docker to install)"),
		mkflag.Int("aliyunecs-internet-max-bandwidth", "ECS_INTERNET_MAX_BANDWIDTH", defaultBandwidth, "maximum outbound public bandwidth in Mbit/s (1-100)"),
		mkflag.String("aliyunecs-internet-charge-type", "ECS_INTERNET_CHARGE_TYPE", defaultChargeType, "public traffic billing: PayByTraffic or PayByBandwidth"),
		mkflag.String("aliyunecs-route-cidr", "ECS_ROUTE_CIDR", "", "Docker bridge CIDR of this host: a VPC route entry to the instance and a security group rule from it"),
		mkflag.String(flagSLBID, "ECS_SLB_ID", "", "Server Load Balancer to add the instance to as a backend server"),
		mkflag.List("aliyunecs-tag", "ECS_TAGS", nil, "tag key=value for the instance and the resources made for it (repeatable)"),
		mkflag.Int("aliyunecs-disk-size", "ECS_DISK_SIZE", 0, "data disk size in GB, mounted on /var/lib/docker (0: no data disk)"),
		mkflag.String("aliyunecs-disk-fs", "ECS_DISK_FS", defaultDiskFS, "file system of the data disk: ext4 or xfs"),
		mkflag.Int("aliyunecs-system-disk-size", "ECS_SYSTEM_DISK_SIZE", defaultSystemDiskSize, "system disk size in GB"),
		mkflag.String("aliyunecs-system-disk-category", "ECS_SYSTEM_DISK_CATEGORY", "", "system disk category, e.g. cloud_efficiency, cloud_ssd, cloud_essd (default: the instance type's default)"),
		mkflag.String("aliyunecs-disk-category", "ECS_DISK_CATEGORY", "", "data disk category, e.g. cloud_efficiency, cloud_ssd, cloud_essd"),
		mkflag.Bool("aliyunecs-upgrade-kernel", "ECS_UPGRADE_KERNEL", "deprecated: only Ubuntu 14.04 needed it; current images run Docker on their own kernel, so it is ignored with a warning"),
		mkflag.String("aliyunecs-io-optimized", "ECS_IO_OPTIMIZED", "", "I/O optimized instance: true/optimized or false/none (default: the API's default)"),
		mkflag.String("aliyunecs-api-endpoint", "ECS_API_ENDPOINT", "", "API endpoint for ECS, VPC and SLB: host[:port] (HTTPS) or http(s)://host[:port]"),
		mkflag.String("aliyunecs-resource-group-id", "ECS_RESOURCE_GROUP_ID", "", "resource group for the instance and the resources made for it"),
		// Additions.
		mkflag.String("aliyunecs-source-cidr", "ECS_SOURCE_CIDR", defaultSourceCIDR, "source CIDR allowed to reach SSH and Docker (and --aliyunecs-open-port ports)"),
		mkflag.List("aliyunecs-open-port", "ECS_OPEN_PORTS", nil, "extra port to open from the source CIDR: PORT[/tcp|udp] or FROM-TO[/tcp|udp] (repeatable)"),
		mkflag.Int(flagSLBWeight, "ECS_SLB_WEIGHT", defaultSLBWeight, "weight of the instance as an SLB backend server (0-100)"),
		mkflag.Bool("aliyunecs-eip", "ECS_EIP", "use an elastic IP address (allocated, associated, and released on rm) instead of the instance's own public IP"),
		mkflag.Bool("aliyunecs-use-private-address", "ECS_USE_PRIVATE_ADDRESS", "keep the public address for outbound traffic but connect to the host over its private address"),
		mkflag.String("aliyunecs-userdata", "ECS_USERDATA", "", "file whose contents are the instance's user data (run at first boot)"),
	}
}

// SetConfigFromFlags reads and checks every option. It makes no API call;
// what needs the cloud is checked by PreCreateCheck.
func (d *Driver) SetConfigFromFlags(flags drivers.DriverOptions) error {
	d.AccessKey = flags.String("aliyunecs-access-key-id")
	d.SecretKey = flags.String("aliyunecs-access-key-secret")
	// Keys that only came through the environment are read again at every
	// load and never written to config.json.
	if d.AccessKey == os.Getenv("ECS_ACCESS_KEY_ID") && d.SecretKey == os.Getenv("ECS_ACCESS_KEY_SECRET") {
		d.AccessKey, d.SecretKey = "", ""
	}
	if (d.AccessKey == "") != (d.SecretKey == "") {
		return errors.New("--aliyunecs-access-key-id and --aliyunecs-access-key-secret must be given together")
	}
	d.ImageID = strings.TrimSpace(flags.String("aliyunecs-image-id"))
	d.Region = stringOr(flags, "aliyunecs-region", defaultRegion)
	d.VpcId = strings.TrimSpace(flags.String("aliyunecs-vpc-id"))
	d.VSwitchId = strings.TrimSpace(flags.String("aliyunecs-vswitch-id"))
	d.Zone = strings.TrimSpace(flags.String("aliyunecs-zone"))
	d.SecurityGroupName = stringOr(flags, "aliyunecs-security-group", defaultSecurityGroup)
	d.InstanceType = stringOr(flags, "aliyunecs-instance-type", defaultInstanceType)
	d.RequestedPrivateIP = strings.TrimSpace(flags.String("aliyunecs-private-ip"))
	if d.RequestedPrivateIP != "" {
		if _, err := netip.ParseAddr(d.RequestedPrivateIP); err != nil {
			return fmt.Errorf("--aliyunecs-private-ip %q is not an IP address", d.RequestedPrivateIP)
		}
	}
	d.Description = flags.String("aliyunecs-description")
	d.SSHPassword = flags.String("aliyunecs-ssh-password")
	if d.SSHPassword != "" {
		if err := checkPassword(d.SSHPassword); err != nil {
			return err
		}
	}
	d.KeyPairName = strings.TrimSpace(flags.String("aliyunecs-ssh-keypair"))
	d.ExistingKeyPair = d.KeyPairName != ""
	d.SSHKey = strings.TrimSpace(flags.String("aliyunecs-ssh-keypath"))
	if d.ExistingKeyPair && d.SSHKey == "" {
		return fmt.Errorf("--aliyunecs-ssh-keypair %q needs --aliyunecs-ssh-keypath: docker-machine logs in with the key pair's private key", d.KeyPairName)
	}
	if d.SSHKey != "" {
		for _, p := range []string{d.SSHKey, d.SSHKey + ".pub"} {
			if _, err := os.Stat(p); err != nil {
				return fmt.Errorf("--aliyunecs-ssh-keypath: cannot read %s: %w", p, err)
			}
		}
	}
	d.PrivateIPOnly = flags.Bool("aliyunecs-private-address-only")
	var err error
	if d.InternetMaxBandwidthOut, err = intOr(flags, "aliyunecs-internet-max-bandwidth", defaultBandwidth, 1, 100, "Mbit/s"); err != nil {
		return err
	}
	d.InternetChargeType = strings.TrimSpace(flags.String("aliyunecs-internet-charge-type"))
	switch strings.ToLower(d.InternetChargeType) {
	case "", strings.ToLower(internetChargeByTraffic):
		d.InternetChargeType = internetChargeByTraffic
	case strings.ToLower(internetChargeByBandwidth):
		d.InternetChargeType = internetChargeByBandwidth
	default:
		return fmt.Errorf("--aliyunecs-internet-charge-type %q: use PayByTraffic or PayByBandwidth", d.InternetChargeType)
	}
	d.RouteCIDR = strings.TrimSpace(flags.String("aliyunecs-route-cidr"))
	if d.RouteCIDR != "" {
		p, err := netip.ParsePrefix(d.RouteCIDR)
		if err != nil || !p.Addr().Is4() {
			return fmt.Errorf("--aliyunecs-route-cidr %q is not an IPv4 CIDR such as 172.18.1.0/24", d.RouteCIDR)
		}
		d.RouteCIDR = p.Masked().String()
	}
	d.SLBID = strings.TrimSpace(flags.String(flagSLBID))
	tags, err := parseTags(flags.StringSlice("aliyunecs-tag"))
	if err != nil {
		return err
	}
	d.Tags = tags
	d.DiskSize = flags.Int("aliyunecs-disk-size")
	if d.DiskSize < 0 {
		return fmt.Errorf("--aliyunecs-disk-size %d: the size must be positive, or 0 for no data disk", d.DiskSize)
	}
	d.DiskFS = strings.ToLower(stringOr(flags, "aliyunecs-disk-fs", defaultDiskFS))
	if d.DiskFS != "ext4" && d.DiskFS != "xfs" {
		return fmt.Errorf("--aliyunecs-disk-fs %q: use ext4 or xfs", d.DiskFS)
	}
	if d.SystemDiskSize, err = intOr(flags, "aliyunecs-system-disk-size", defaultSystemDiskSize, 20, 2048, "GB"); err != nil {
		return err
	}
	d.SystemDiskCategory = strings.TrimSpace(flags.String("aliyunecs-system-disk-category"))
	d.DiskCategory = strings.TrimSpace(flags.String("aliyunecs-disk-category"))
	d.UpgradeKernel = flags.Bool("aliyunecs-upgrade-kernel")
	d.IoOptimized, err = parseIoOptimized(flags.String("aliyunecs-io-optimized"))
	if err != nil {
		return err
	}
	d.APIEndpoint = strings.TrimSpace(flags.String("aliyunecs-api-endpoint"))
	if _, err := parseEndpoint(d.APIEndpoint); err != nil {
		return err
	}
	d.ResourceGroupId = strings.TrimSpace(flags.String("aliyunecs-resource-group-id"))

	d.SourceCIDR = stringOr(flags, "aliyunecs-source-cidr", defaultSourceCIDR)
	if p, err := netip.ParsePrefix(d.SourceCIDR); err != nil || !p.Addr().Is4() {
		return fmt.Errorf("--aliyunecs-source-cidr %q is not an IPv4 CIDR such as 203.0.113.0/24", d.SourceCIDR)
	}
	d.OpenPorts = nil
	for _, p := range flags.StringSlice("aliyunecs-open-port") {
		r, err := parsePortRule(p)
		if err != nil {
			return err
		}
		d.OpenPorts = append(d.OpenPorts, r.String())
	}
	d.SLBWeight = flags.Int(flagSLBWeight)
	if d.SLBWeight < 0 || d.SLBWeight > 100 {
		return fmt.Errorf("--aliyunecs-slb-weight %d is out of range: use 0 to 100", d.SLBWeight)
	}
	d.UseEIP = flags.Bool("aliyunecs-eip")
	d.UsePrivateIP = flags.Bool("aliyunecs-use-private-address")
	if d.PrivateIPOnly && d.UseEIP {
		return errors.New("--aliyunecs-eip and --aliyunecs-private-address-only exclude each other")
	}
	d.UserDataFile = strings.TrimSpace(flags.String("aliyunecs-userdata"))
	if d.UserDataFile != "" {
		st, err := os.Stat(d.UserDataFile)
		if err != nil {
			return fmt.Errorf("--aliyunecs-userdata: %w", err)
		}
		if st.Size() > maxUserDataBytes {
			return fmt.Errorf("--aliyunecs-userdata %s is %d bytes; ECS accepts at most %d", d.UserDataFile, st.Size(), maxUserDataBytes)
		}
	}

	d.SSHUser = defaultSSHUser
	d.SSHPort = defaultSSHPort
	d.SetSwarmConfigFromFlags(flags)
	if d.SwarmMaster {
		port, err := swarmPort(d.SwarmHost)
		if err != nil {
			return err
		}
		d.SwarmPort = port
	}
	if d.MachineID == "" {
		d.MachineID = newMachineID()
	}
	return nil
}

// stringOr is a string flag's value without surrounding spaces, or def when
// that is empty.
func stringOr(flags drivers.DriverOptions, name, def string) string {
	if v := strings.TrimSpace(flags.String(name)); v != "" {
		return v
	}
	return def
}

// intOr is an int flag's value, or def when it is 0, checked against the
// range lo to hi of its unit.
func intOr(flags drivers.DriverOptions, name string, def, lo, hi int, unit string) (int, error) {
	v := flags.Int(name)
	if v == 0 {
		v = def
	}
	if v < lo || v > hi {
		return 0, fmt.Errorf("--%s %d is out of range: use %d to %d (%s)", name, v, lo, hi, unit)
	}
	return v, nil
}

// checkPassword applies ECS's password rule early, so a bad password fails
// before anything is created. The value itself never appears in the error.
func checkPassword(p string) error {
	classes := 0
	for _, set := range []func(rune) bool{
		func(r rune) bool { return r >= 'a' && r <= 'z' },
		func(r rune) bool { return r >= 'A' && r <= 'Z' },
		func(r rune) bool { return r >= '0' && r <= '9' },
		func(r rune) bool { return strings.ContainsRune("()`~!@#$%^&*-_+=|{}[]:;'<>,.?/", r) },
	} {
		if strings.IndexFunc(p, set) >= 0 {
			classes++
		}
	}
	if strings.IndexFunc(p, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("()`~!@#$%^&*-_+=|{}[]:;'<>,.?/", r))
	}) >= 0 {
		return errors.New("--aliyunecs-ssh-password has a character ECS does not accept (spaces included): use only letters, digits and ()`~!@#$%^&*-_+=|{}[]:;'<>,.?/")
	}
	if len(p) < 8 || len(p) > 30 || classes < 3 {
		return errors.New("--aliyunecs-ssh-password does not meet the ECS rule: 8 to 30 characters from at least three of lower case, upper case, digits and ()`~!@#$%^&*-_+=|{}[]:;'<>,.?/")
	}
	return nil
}

// parseTags reads k=v pairs; the keys ECS reserves are refused.
func parseTags(list []string) (map[string]string, error) {
	if len(list) == 0 {
		return nil, nil
	}
	tags := map[string]string{}
	for _, item := range list {
		for _, kv := range strings.Split(item, ",") {
			kv = strings.TrimSpace(kv)
			if kv == "" {
				continue
			}
			k, v, ok := strings.Cut(kv, "=")
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if !ok || k == "" {
				return nil, fmt.Errorf("--aliyunecs-tag %q: use key=value", kv)
			}
			lk := strings.ToLower(k)
			if strings.HasPrefix(lk, "aliyun") || strings.HasPrefix(lk, "acs:") || strings.HasPrefix(lk, "http://") || strings.HasPrefix(lk, "https://") {
				return nil, fmt.Errorf("--aliyunecs-tag %q: ECS reserves keys starting with aliyun, acs:, http:// or https://", kv)
			}
			if k == tagMachineID || k == tagMachineName {
				return nil, fmt.Errorf("--aliyunecs-tag %q: the key %s is set by docker-machine itself", kv, k)
			}
			tags[k] = v
		}
	}
	if len(tags)+2 > 20 {
		return nil, fmt.Errorf("--aliyunecs-tag: %d tags given; ECS allows 20 per resource and docker-machine adds 2", len(tags))
	}
	return tags, nil
}

func parseIoOptimized(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return "", nil
	case "true", "optimized", "yes", "1":
		return "optimized", nil
	case "false", "none", "no", "0":
		return "none", nil
	}
	return "", fmt.Errorf("--aliyunecs-io-optimized %q: use true (optimized) or false (none)", s)
}

// portRule is one inbound rule: a port range and a protocol.
type portRule = portrule.Rule

func parsePortRule(s string) (portRule, error) { return portrule.Parse("aliyunecs-open-port", s) }

// portRange is the form ECS uses: "22/22".
func portRange(r portRule) string { return fmt.Sprintf("%d/%d", r.From, r.To) }

func swarmPort(swarmHost string) (int, error) {
	if swarmHost == "" {
		return swarmDefaultPort, nil
	}
	u, err := url.Parse(swarmHost)
	if err != nil {
		return 0, fmt.Errorf("--swarm-host %q is not a URL: %w", swarmHost, err)
	}
	_, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return swarmDefaultPort, nil
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("--swarm-host %q has no valid port", swarmHost)
	}
	return n, nil
}

func newMachineID() string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

// inboundRules are the rules the host needs: SSH and Docker, swarm when it
// is a swarm master, and the ports asked for.
func (d *Driver) inboundRules() []portRule {
	port := d.SSHPort
	if port == 0 {
		port = defaultSSHPort
	}
	tcp := []int{port, defaultEnginePort}
	if d.SwarmMaster && d.SwarmPort != 0 {
		tcp = append(tcp, d.SwarmPort)
	}
	return portrule.Inbound(d.OpenPorts, tcp...)
}
