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
	"slices"
	"strconv"
	"strings"

	"github.com/docker/machine/libmachine/drivers"
	"github.com/docker/machine/libmachine/mcnflag"
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
		mcnflag.StringFlag{Name: "aliyunecs-access-key-id", EnvVar: "ECS_ACCESS_KEY_ID",
			Usage: "ECS access key ID (else ALIBABA_CLOUD_ACCESS_KEY_ID, ~/.alibabacloud/credentials, ~/.aliyun/config.json or the ECS RAM role)"},
		mcnflag.StringFlag{Name: "aliyunecs-access-key-secret", EnvVar: "ECS_ACCESS_KEY_SECRET",
			Usage: "ECS access key secret"},
		mcnflag.StringFlag{Name: "aliyunecs-image-id", EnvVar: "ECS_IMAGE_ID",
			Usage: "ECS image ID (default: the newest Ubuntu LTS system image of the region)"},
		mcnflag.StringFlag{Name: "aliyunecs-region", EnvVar: "ECS_REGION", Value: defaultRegion,
			Usage: "ECS region, checked against DescribeRegions"},
		mcnflag.StringFlag{Name: "aliyunecs-vpc-id", EnvVar: "ECS_VPC_ID",
			Usage: "VPC ID (default: the VPC of the VSwitch, or the region's default VPC)"},
		mcnflag.StringFlag{Name: "aliyunecs-vswitch-id", EnvVar: "ECS_VSWITCH_ID",
			Usage: "VSwitch ID (default: a VSwitch of the VPC in the zone, or the zone's default VSwitch)"},
		mcnflag.StringFlag{Name: "aliyunecs-zone", EnvVar: "ECS_ZONE",
			Usage: "ECS zone (default: the VSwitch's zone, or any zone with a default VSwitch)"},
		mcnflag.StringFlag{Name: "aliyunecs-security-group", EnvVar: "ECS_SECURITY_GROUP", Value: defaultSecurityGroup,
			Usage: "security group name; found in the VPC or created with SSH and Docker rules only"},
		mcnflag.StringFlag{Name: "aliyunecs-instance-type", EnvVar: "ECS_INSTANCE_TYPE", Value: defaultInstanceType,
			Usage: "ECS instance type"},
		mcnflag.StringFlag{Name: "aliyunecs-private-ip", EnvVar: "ECS_VPC_PRIVATE_IP",
			Usage: "private IP address for the instance in its VSwitch"},
		mcnflag.StringFlag{Name: "aliyunecs-description", EnvVar: "ECS_DESCRIPTION",
			Usage: "description of the instance"},
		mcnflag.StringFlag{Name: "aliyunecs-ssh-password", EnvVar: "ECS_SSH_PASSWORD",
			Usage: "root password set on the instance (never stored; docker-machine logs in with a key)"},
		mcnflag.StringFlag{Name: "aliyunecs-ssh-keypair", EnvVar: "ECS_SSH_KEYPAIR",
			Usage: "existing ECS key pair to use; needs --aliyunecs-ssh-keypath with its private key"},
		mcnflag.StringFlag{Name: "aliyunecs-ssh-keypath", EnvVar: "ECS_SSH_KEYPATH",
			Usage: "private key to log in with; KEYPATH.pub must exist (imported as the machine's key pair unless --aliyunecs-ssh-keypair is set)"},
		mcnflag.BoolFlag{Name: "aliyunecs-private-address-only", EnvVar: "ECS_PRIVATE_ADDR_ONLY",
			Usage: "give the instance no public address (the VPC then needs a NAT gateway for Docker to install)"},
		mcnflag.IntFlag{Name: "aliyunecs-internet-max-bandwidth", EnvVar: "ECS_INTERNET_MAX_BANDWIDTH", Value: defaultBandwidth,
			Usage: "maximum outbound public bandwidth in Mbit/s (1-100)"},
		mcnflag.StringFlag{Name: "aliyunecs-internet-charge-type", EnvVar: "ECS_INTERNET_CHARGE_TYPE", Value: defaultChargeType,
			Usage: "public traffic billing: PayByTraffic or PayByBandwidth"},
		mcnflag.StringFlag{Name: "aliyunecs-route-cidr", EnvVar: "ECS_ROUTE_CIDR",
			Usage: "Docker bridge CIDR of this host: a VPC route entry to the instance and a security group rule from it"},
		mcnflag.StringFlag{Name: flagSLBID, EnvVar: "ECS_SLB_ID",
			Usage: "Server Load Balancer to add the instance to as a backend server"},
		mcnflag.StringSliceFlag{Name: "aliyunecs-tag", EnvVar: "ECS_TAGS",
			Usage: "tag key=value for the instance and the resources made for it (repeatable)"},
		mcnflag.IntFlag{Name: "aliyunecs-disk-size", EnvVar: "ECS_DISK_SIZE",
			Usage: "data disk size in GB, mounted on /var/lib/docker (0: no data disk)"},
		mcnflag.StringFlag{Name: "aliyunecs-disk-fs", EnvVar: "ECS_DISK_FS", Value: defaultDiskFS,
			Usage: "file system of the data disk: ext4 or xfs"},
		mcnflag.IntFlag{Name: "aliyunecs-system-disk-size", EnvVar: "ECS_SYSTEM_DISK_SIZE", Value: defaultSystemDiskSize,
			Usage: "system disk size in GB"},
		mcnflag.StringFlag{Name: "aliyunecs-system-disk-category", EnvVar: "ECS_SYSTEM_DISK_CATEGORY",
			Usage: "system disk category, e.g. cloud_efficiency, cloud_ssd, cloud_essd (default: the instance type's default)"},
		mcnflag.StringFlag{Name: "aliyunecs-disk-category", EnvVar: "ECS_DISK_CATEGORY",
			Usage: "data disk category, e.g. cloud_efficiency, cloud_ssd, cloud_essd"},
		mcnflag.BoolFlag{Name: "aliyunecs-upgrade-kernel", EnvVar: "ECS_UPGRADE_KERNEL",
			Usage: "deprecated: only Ubuntu 14.04 needed it; current images run Docker on their own kernel, so it is ignored with a warning"},
		mcnflag.StringFlag{Name: "aliyunecs-io-optimized", EnvVar: "ECS_IO_OPTIMIZED",
			Usage: "I/O optimized instance: true/optimized or false/none (default: the API's default)"},
		mcnflag.StringFlag{Name: "aliyunecs-api-endpoint", EnvVar: "ECS_API_ENDPOINT",
			Usage: "API endpoint for ECS, VPC and SLB: host[:port] (HTTPS) or http(s)://host[:port]"},
		mcnflag.StringFlag{Name: "aliyunecs-resource-group-id", EnvVar: "ECS_RESOURCE_GROUP_ID",
			Usage: "resource group for the instance and the resources made for it"},
		// Additions.
		mcnflag.StringFlag{Name: "aliyunecs-source-cidr", EnvVar: "ECS_SOURCE_CIDR", Value: defaultSourceCIDR,
			Usage: "source CIDR allowed to reach SSH and Docker (and --aliyunecs-open-port ports)"},
		mcnflag.StringSliceFlag{Name: "aliyunecs-open-port", EnvVar: "ECS_OPEN_PORTS",
			Usage: "extra port to open from the source CIDR: PORT[/tcp|udp] or FROM-TO[/tcp|udp] (repeatable)"},
		mcnflag.IntFlag{Name: flagSLBWeight, EnvVar: "ECS_SLB_WEIGHT", Value: defaultSLBWeight,
			Usage: "weight of the instance as an SLB backend server (0-100)"},
		mcnflag.BoolFlag{Name: "aliyunecs-eip", EnvVar: "ECS_EIP",
			Usage: "use an elastic IP address (allocated, associated, and released on rm) instead of the instance's own public IP"},
		mcnflag.BoolFlag{Name: "aliyunecs-use-private-address", EnvVar: "ECS_USE_PRIVATE_ADDRESS",
			Usage: "keep the public address for outbound traffic but connect to the host over its private address"},
		mcnflag.StringFlag{Name: "aliyunecs-userdata", EnvVar: "ECS_USERDATA",
			Usage: "file whose contents are the instance's user data (run at first boot)"},
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
	d.Region = strings.TrimSpace(flags.String("aliyunecs-region"))
	if d.Region == "" {
		d.Region = defaultRegion
	}
	d.VpcId = strings.TrimSpace(flags.String("aliyunecs-vpc-id"))
	d.VSwitchId = strings.TrimSpace(flags.String("aliyunecs-vswitch-id"))
	d.Zone = strings.TrimSpace(flags.String("aliyunecs-zone"))
	d.SecurityGroupName = strings.TrimSpace(flags.String("aliyunecs-security-group"))
	if d.SecurityGroupName == "" {
		d.SecurityGroupName = defaultSecurityGroup
	}
	d.InstanceType = strings.TrimSpace(flags.String("aliyunecs-instance-type"))
	if d.InstanceType == "" {
		d.InstanceType = defaultInstanceType
	}
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
	d.InternetMaxBandwidthOut = flags.Int("aliyunecs-internet-max-bandwidth")
	if d.InternetMaxBandwidthOut == 0 {
		d.InternetMaxBandwidthOut = defaultBandwidth
	}
	if d.InternetMaxBandwidthOut < 1 || d.InternetMaxBandwidthOut > 100 {
		return fmt.Errorf("--aliyunecs-internet-max-bandwidth %d is out of range: use 1 to 100 (Mbit/s)", d.InternetMaxBandwidthOut)
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
	d.DiskFS = strings.ToLower(strings.TrimSpace(flags.String("aliyunecs-disk-fs")))
	if d.DiskFS == "" {
		d.DiskFS = defaultDiskFS
	}
	if d.DiskFS != "ext4" && d.DiskFS != "xfs" {
		return fmt.Errorf("--aliyunecs-disk-fs %q: use ext4 or xfs", d.DiskFS)
	}
	d.SystemDiskSize = flags.Int("aliyunecs-system-disk-size")
	if d.SystemDiskSize == 0 {
		d.SystemDiskSize = defaultSystemDiskSize
	}
	if d.SystemDiskSize < 20 || d.SystemDiskSize > 2048 {
		return fmt.Errorf("--aliyunecs-system-disk-size %d is out of range: use 20 to 2048 (GB)", d.SystemDiskSize)
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

	d.SourceCIDR = strings.TrimSpace(flags.String("aliyunecs-source-cidr"))
	if d.SourceCIDR == "" {
		d.SourceCIDR = defaultSourceCIDR
	}
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
type portRule struct {
	From, To int
	Proto    string // "tcp" or "udp"
}

func (r portRule) String() string {
	if r.From == r.To {
		return fmt.Sprintf("%d/%s", r.From, r.Proto)
	}
	return fmt.Sprintf("%d-%d/%s", r.From, r.To, r.Proto)
}

// portRange is the form ECS uses: "22/22".
func (r portRule) portRange() string { return fmt.Sprintf("%d/%d", r.From, r.To) }

func parsePortRule(s string) (portRule, error) {
	spec, proto, hasProto := strings.Cut(strings.TrimSpace(s), "/")
	proto = strings.ToLower(proto)
	if !hasProto {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" {
		return portRule{}, fmt.Errorf("--aliyunecs-open-port %q: protocol must be tcp or udp", s)
	}
	lo, hi, isRange := strings.Cut(spec, "-")
	from, err1 := strconv.Atoi(lo)
	to := from
	var err2 error
	if isRange {
		to, err2 = strconv.Atoi(hi)
	}
	if err1 != nil || err2 != nil || from < 1 || to > 65535 || from > to {
		return portRule{}, fmt.Errorf("--aliyunecs-open-port %q: use PORT, PORT/PROTO or FROM-TO/PROTO with ports 1-65535", s)
	}
	return portRule{From: from, To: to, Proto: proto}, nil
}

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
	rules := []portRule{{port, port, "tcp"}, {defaultEnginePort, defaultEnginePort, "tcp"}}
	if d.SwarmMaster && d.SwarmPort != 0 {
		rules = append(rules, portRule{d.SwarmPort, d.SwarmPort, "tcp"})
	}
	for _, p := range d.OpenPorts {
		if r, err := parsePortRule(p); err == nil && !slices.Contains(rules, r) {
			rules = append(rules, r)
		}
	}
	return rules
}
