package amazonec2

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/machine/libmachine/drivers"
	"github.com/docker/machine/libmachine/mcnflag"

	"github.com/fleetdock/machine/drivers/internal/mkflag"
	"github.com/fleetdock/machine/drivers/internal/portrule"
)

// Defaults of the flags. Where docker-machine 0.16.2 and rancher-machine
// differ, 0.16.2's default is kept unless a current user would choose
// otherwise (gp3, the AMI's own root device, IMDSv2).
const (
	defaultRegion        = "us-east-1"
	defaultZone          = "a"
	defaultInstanceType  = "t2.micro"
	defaultSecurityGroup = "docker-machine"
	defaultRootSize      = 16
	defaultVolumeType    = "gp3"
	defaultSSHUser       = "ubuntu"
	defaultSSHPort       = 22
	defaultSpotPrice     = "0.50"
	defaultRetries       = 5
	defaultHTTPTokens    = "required"
	defaultSourceCIDR    = "0.0.0.0/0"
	anyIPv6              = "::/0"
	dockerPort           = 2376
	swarmPort            = 3376
	// EC2 takes at most 16 KB of user data before base64.
	maxUserDataBytes = 16 * 1024
	// EC2 allows 50 tags per resource; the driver adds three.
	maxUserTags = 47
)

// GetCreateFlags lists every flag of docker-machine 0.16.2's and
// rancher-machine's amazonec2 driver with its name, env var and meaning,
// followed by this driver's additions.
func (d *Driver) GetCreateFlags() []mcnflag.Flag {
	return []mcnflag.Flag{
		mkflag.String("amazonec2-access-key", "AWS_ACCESS_KEY_ID", "", "AWS access key (else the SDK's default chain: environment, shared files and profiles, SSO, assume-role, web identity, container or instance role)"),
		mkflag.String("amazonec2-secret-key", "AWS_SECRET_ACCESS_KEY", "", "AWS secret key"),
		mkflag.String("amazonec2-session-token", "AWS_SESSION_TOKEN", "", "AWS session token"),
		mkflag.String("amazonec2-ami", "AWS_AMI", "", "AWS machine image (default: the newest Ubuntu LTS image published by Canonical in the region)"),
		mkflag.String("amazonec2-region", "AWS_DEFAULT_REGION", defaultRegion, "AWS region"),
		mkflag.String("amazonec2-vpc-id", "AWS_VPC_ID", "", "AWS VPC id (default: the subnet's VPC, or the account's default VPC)"),
		mkflag.String("amazonec2-zone", "AWS_ZONE", defaultZone, "AWS zone for the instance: a letter (a, b, c, ...) or a full zone name (ignored with --amazonec2-subnet-id, whose zone is used)"),
		mkflag.String("amazonec2-subnet-id", "AWS_SUBNET_ID", "", "AWS VPC subnet id (default: the zone's default subnet, or another subnet of the VPC in the zone)"),
		mkflag.Bool("amazonec2-security-group-readonly", "AWS_SECURITY_GROUP_READONLY", "never add rules to existing security groups"),
		mkflag.List("amazonec2-security-group", "AWS_SECURITY_GROUP", []string{defaultSecurityGroup}, "AWS VPC security group name; found in the VPC or created with SSH and Docker rules only (repeatable)"),
		mkflag.List("amazonec2-open-port", "", nil, "make the port accessible from the source CIDRs: PORT[/tcp|udp] or FROM-TO[/tcp|udp] (repeatable)"),
		mkflag.String("amazonec2-tags", "AWS_TAGS", "", "AWS tags for the instance, its volumes and interfaces (e.g. key1,value1,key2,value2)"),
		mkflag.String("amazonec2-instance-type", "AWS_INSTANCE_TYPE", defaultInstanceType, "AWS instance type"),
		mkflag.String("amazonec2-device-name", "AWS_DEVICE_NAME", "", "AWS root device name (default: the AMI's root device)"),
		mkflag.Int("amazonec2-root-size", "AWS_ROOT_SIZE", defaultRootSize, "AWS root disk size (in GB)"),
		mkflag.String("amazonec2-volume-type", "AWS_VOLUME_TYPE", defaultVolumeType, "Amazon EBS volume type of the root disk (gp3, gp2, io1, io2, st1, sc1, standard)"),
		mkflag.String("amazonec2-iam-instance-profile", "AWS_INSTANCE_PROFILE", "", "AWS IAM instance profile name"),
		mkflag.Int("amazonec2-ssh-port", "AWS_SSH_PORT", defaultSSHPort, "SSH port"),
		mkflag.String("amazonec2-ssh-user", "AWS_SSH_USER", defaultSSHUser, "SSH username"),
		mkflag.Bool("amazonec2-request-spot-instance", "", "request a one-time spot instance"),
		mkflag.String("amazonec2-spot-price", "", defaultSpotPrice, "AWS spot instance maximum price (in dollars per hour); needs --amazonec2-request-spot-instance"),
		mkflag.Int("amazonec2-block-duration-minutes", "", 0, "spot block duration in minutes; AWS no longer offers spot blocks, so any value other than 0 is ignored with a warning"),
		mkflag.Bool("amazonec2-private-address-only", "", "only use a private IP address (no public address is assigned)"),
		mkflag.Bool("amazonec2-use-private-address", "", "connect over the private IP address (the instance keeps its public one)"),
		mkflag.Bool("amazonec2-monitoring", "", "enable CloudWatch detailed monitoring"),
		mkflag.Bool("amazonec2-use-ebs-optimized-instance", "", "create an EBS optimized instance"),
		mkflag.String("amazonec2-ssh-keypath", "AWS_SSH_KEYPATH", "", "private SSH key for the instance; KEYPATH.pub is imported as its key pair unless --amazonec2-keypair-name is given"),
		mkflag.String("amazonec2-keypair-name", "AWS_KEYPAIR_NAME", "", "existing AWS key pair to use; requires --amazonec2-ssh-keypath"),
		mkflag.Int("amazonec2-retries", "", defaultRetries, "retry count for recoverable failures of each API call (use -1 to disable)"),
		mkflag.String("amazonec2-endpoint", "AWS_ENDPOINT", "", "optional endpoint URL (hostname only or fully qualified URI)"),
		mkflag.Bool("amazonec2-insecure-transport", "AWS_INSECURE_TRANSPORT", "use http instead of https with a hostname-only --amazonec2-endpoint"),
		mkflag.String("amazonec2-userdata", "AWS_USERDATA", "", "path to file with cloud-init user data"),
		// rancher-machine's additions.
		mkflag.Bool("amazonec2-encrypt-ebs-volume", "AWS_ENCRYPT_EBS_VOLUME", "encrypt the root EBS volume (it is also encrypted when the account encrypts EBS by default)"),
		mkflag.String("amazonec2-kms-key", "AWS_KMS_KEY", "", "KMS key id, alias or ARN for the encrypted root volume (implies --amazonec2-encrypt-ebs-volume)"),
		mkflag.String("amazonec2-http-endpoint", "AWS_HTTP_ENDPOINT", "", "instance metadata service on the instance: enabled or disabled (default: AWS's, enabled)"),
		mkflag.String("amazonec2-http-tokens", "AWS_HTTP_TOKENS", defaultHTTPTokens, "instance metadata tokens: required (IMDSv2 only) or optional (IMDSv1 allowed too)"),
		mkflag.String("amazonec2-http-protocol-ipv6", "AWS_HTTP_PROTOCOL_IPV6", "", "instance metadata service over IPv6: enabled or disabled (default: AWS's, disabled)"),
		mkflag.Int("amazonec2-ipv6-address-count", "AWS_IPV6_ADDRESS_COUNT", 0, "number of IPv6 addresses of the instance's network interface (the subnet needs an IPv6 range)"),
		mkflag.Bool("amazonec2-enable-primary-ipv6", "AWS_ENABLE_PRIMARY_IPV6", "make the first IPv6 address the interface's primary IPv6 address"),
		mkflag.Bool("amazonec2-ipv6-address-only", "AWS_IPV6_ADDRESS_ONLY", "reach the instance over IPv6 only; needs --amazonec2-ipv6-address-count of 1 or more"),
		// Additions of this driver.
		mkflag.String("amazonec2-profile", "AWS_PROFILE", "", "profile of the shared AWS config and credentials files (static keys, SSO, assume-role, credential_process)"),
		mkflag.Int("amazonec2-volume-iops", "AWS_VOLUME_IOPS", 0, "provisioned IOPS of the root volume (gp3, io1, io2; io1 and io2 require it)"),
		mkflag.Int("amazonec2-volume-throughput", "AWS_VOLUME_THROUGHPUT", 0, "throughput of a gp3 root volume in MiB/s"),
		mkflag.List("amazonec2-security-group-id", "AWS_SECURITY_GROUP_ID", nil, "existing security group id to use; with it, --amazonec2-security-group is used only when set (repeatable)"),
		mkflag.List("amazonec2-source-cidr", "AWS_SOURCE_CIDR", []string{defaultSourceCIDR}, "source CIDR allowed to reach SSH, Docker and the open ports (repeatable; ::/0 is added for IPv6 instances when this is left at its default)"),
	}
}

// SetConfigFromFlags reads and checks every option. It makes no API call;
// what needs the cloud is checked by PreCreateCheck.
func (d *Driver) SetConfigFromFlags(flags drivers.DriverOptions) error {
	d.AccessKey = strings.TrimSpace(flags.String("amazonec2-access-key"))
	d.SecretKey = strings.TrimSpace(flags.String("amazonec2-secret-key"))
	d.SessionToken = strings.TrimSpace(flags.String("amazonec2-session-token"))
	// The CLI fills these flags from AWS_* when they are not given. Keys
	// that only came from the environment are left to the SDK's chain, which
	// reads them again at every load, and are never written to config.json.
	if d.AccessKey == os.Getenv("AWS_ACCESS_KEY_ID") && d.SecretKey == os.Getenv("AWS_SECRET_ACCESS_KEY") &&
		d.SessionToken == os.Getenv("AWS_SESSION_TOKEN") {
		d.AccessKey, d.SecretKey, d.SessionToken = "", "", ""
	}
	if (d.AccessKey == "") != (d.SecretKey == "") {
		return errors.New("--amazonec2-access-key and --amazonec2-secret-key must be given together")
	}
	if d.AccessKey == "" && d.SessionToken != "" {
		return errors.New("--amazonec2-session-token needs --amazonec2-access-key and --amazonec2-secret-key")
	}
	d.Profile = strings.TrimSpace(flags.String("amazonec2-profile"))

	d.Endpoint = strings.TrimSpace(flags.String("amazonec2-endpoint"))
	d.DisableSSL = flags.Bool("amazonec2-insecure-transport")
	if d.DisableSSL && d.Endpoint == "" {
		return errors.New("using --amazonec2-insecure-transport also requires --amazonec2-endpoint")
	}
	if _, err := endpointURL(d.Endpoint, d.DisableSSL); err != nil {
		return err
	}
	d.Region = strings.TrimSpace(flags.String("amazonec2-region"))
	if d.Region == "" {
		d.Region = defaultRegion
	}
	if !validRegion.MatchString(d.Region) {
		return fmt.Errorf("--amazonec2-region %q is not a region name such as us-east-1 or eu-central-1", d.Region)
	}
	d.AMI = strings.TrimSpace(flags.String("amazonec2-ami"))
	d.VpcId = strings.TrimSpace(flags.String("amazonec2-vpc-id"))
	d.SubnetId = strings.TrimSpace(flags.String("amazonec2-subnet-id"))
	d.Zone = strings.TrimSpace(flags.String("amazonec2-zone"))
	if d.Zone == "" {
		d.Zone = defaultZone
	}

	d.SecurityGroupReadOnly = flags.Bool("amazonec2-security-group-readonly")
	d.SecurityGroupNames = cleanList(flags.StringSlice("amazonec2-security-group"))
	d.GivenSecurityGroupIds = cleanList(flags.StringSlice("amazonec2-security-group-id"))
	for _, id := range d.GivenSecurityGroupIds {
		if !strings.HasPrefix(id, "sg-") {
			return fmt.Errorf("--amazonec2-security-group-id %q is not a security group id (sg-...); pass names with --amazonec2-security-group", id)
		}
	}
	if len(d.GivenSecurityGroupIds) > 0 && slices.Equal(d.SecurityGroupNames, []string{defaultSecurityGroup}) {
		d.SecurityGroupNames = nil
	}
	if len(d.SecurityGroupNames) == 0 && len(d.GivenSecurityGroupIds) == 0 {
		d.SecurityGroupNames = []string{defaultSecurityGroup}
	}
	if n := len(d.SecurityGroupNames) + len(d.GivenSecurityGroupIds); n > 5 {
		return fmt.Errorf("%d security groups given; an EC2 network interface takes at most 5", n)
	}
	d.OpenPorts = nil
	for _, p := range cleanList(flags.StringSlice("amazonec2-open-port")) {
		r, err := parsePortRule(p)
		if err != nil {
			return err
		}
		d.OpenPorts = append(d.OpenPorts, r.String())
	}
	d.SourceCIDRs = nil
	sources := cleanList(flags.StringSlice("amazonec2-source-cidr"))
	defaultSources := len(sources) == 0 || slices.Equal(sources, []string{defaultSourceCIDR})
	for _, s := range sources {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("--amazonec2-source-cidr %q is not a CIDR such as 203.0.113.0/24 or 2001:db8::/32", s)
		}
		d.SourceCIDRs = append(d.SourceCIDRs, p.Masked().String())
	}
	if len(d.SourceCIDRs) == 0 {
		d.SourceCIDRs = []string{defaultSourceCIDR}
	}

	d.Tags = strings.TrimSpace(flags.String("amazonec2-tags"))
	if _, err := parseTags(d.Tags); err != nil {
		return err
	}
	d.InstanceType = strings.TrimSpace(flags.String("amazonec2-instance-type"))
	if d.InstanceType == "" {
		d.InstanceType = defaultInstanceType
	}
	d.DeviceName = strings.TrimSpace(flags.String("amazonec2-device-name"))
	d.RootSize = int64(flags.Int("amazonec2-root-size"))
	if d.RootSize == 0 {
		d.RootSize = defaultRootSize
	}
	if d.RootSize < 1 || d.RootSize > 65536 {
		return fmt.Errorf("--amazonec2-root-size %d is out of range: use 1 to 65536 (GB)", d.RootSize)
	}
	d.VolumeType = strings.ToLower(strings.TrimSpace(flags.String("amazonec2-volume-type")))
	if d.VolumeType == "" {
		d.VolumeType = defaultVolumeType
	}
	if !slices.Contains(volumeTypes, d.VolumeType) {
		return fmt.Errorf("--amazonec2-volume-type %q is not an EBS volume type: use one of %s", d.VolumeType, strings.Join(volumeTypes, ", "))
	}
	d.VolumeIops = int32(flags.Int("amazonec2-volume-iops"))
	d.VolumeThroughput = int32(flags.Int("amazonec2-volume-throughput"))
	if err := checkVolume(d.VolumeType, d.VolumeIops, d.VolumeThroughput); err != nil {
		return err
	}
	d.KmsKeyId = strings.TrimSpace(flags.String("amazonec2-kms-key"))
	d.EncryptEbsVolume = flags.Bool("amazonec2-encrypt-ebs-volume") || d.KmsKeyId != ""
	d.IamInstanceProfile = strings.TrimSpace(flags.String("amazonec2-iam-instance-profile"))

	d.SSHUser = strings.TrimSpace(flags.String("amazonec2-ssh-user"))
	if d.SSHUser == "" {
		d.SSHUser = defaultSSHUser
	}
	d.SSHPort = flags.Int("amazonec2-ssh-port")
	if d.SSHPort == 0 {
		d.SSHPort = defaultSSHPort
	}
	if d.SSHPort < 1 || d.SSHPort > 65535 {
		return fmt.Errorf("--amazonec2-ssh-port %d is not a port number", d.SSHPort)
	}

	d.RequestSpotInstance = flags.Bool("amazonec2-request-spot-instance")
	d.SpotPrice = strings.TrimSpace(flags.String("amazonec2-spot-price"))
	if d.SpotPrice == "" {
		d.SpotPrice = defaultSpotPrice
	}
	if p, err := strconv.ParseFloat(d.SpotPrice, 64); err != nil || p <= 0 {
		return fmt.Errorf("--amazonec2-spot-price %q is not a price in dollars such as 0.05", d.SpotPrice)
	}
	d.BlockDurationMinutes = int64(flags.Int("amazonec2-block-duration-minutes"))

	d.PrivateIPOnly = flags.Bool("amazonec2-private-address-only")
	d.UsePrivateIP = flags.Bool("amazonec2-use-private-address")
	d.Monitoring = flags.Bool("amazonec2-monitoring")
	d.UseEbsOptimizedInstance = flags.Bool("amazonec2-use-ebs-optimized-instance")

	d.SSHPrivateKeyPath = strings.TrimSpace(flags.String("amazonec2-ssh-keypath"))
	d.KeyName = strings.TrimSpace(flags.String("amazonec2-keypair-name"))
	d.ExistingKey = d.KeyName != ""
	if d.ExistingKey && d.SSHPrivateKeyPath == "" {
		return errors.New("using --amazonec2-keypair-name also requires --amazonec2-ssh-keypath")
	}
	if d.SSHPrivateKeyPath != "" {
		if _, err := os.Stat(d.SSHPrivateKeyPath); err != nil {
			return fmt.Errorf("--amazonec2-ssh-keypath: cannot read the private key: %w", err)
		}
		if !d.ExistingKey {
			if _, err := os.Stat(d.SSHPrivateKeyPath + ".pub"); err != nil {
				return fmt.Errorf("--amazonec2-ssh-keypath: %s.pub is needed to import the key pair (or pass --amazonec2-keypair-name): %w", d.SSHPrivateKeyPath, err)
			}
		}
	}

	d.RetryCount = flags.Int("amazonec2-retries")
	if d.RetryCount < -1 {
		return fmt.Errorf("--amazonec2-retries %d: use a count of 0 or more, or -1 to disable retries", d.RetryCount)
	}
	d.UserDataFile = strings.TrimSpace(flags.String("amazonec2-userdata"))
	if d.UserDataFile != "" {
		st, err := os.Stat(d.UserDataFile)
		if err != nil {
			return fmt.Errorf("unable to read --amazonec2-userdata file: %w", err)
		}
		if st.Size() > maxUserDataBytes {
			return fmt.Errorf("--amazonec2-userdata %s is %d bytes; EC2 accepts at most %d", d.UserDataFile, st.Size(), maxUserDataBytes)
		}
	}

	var err error
	if d.HttpEndpoint, err = enabledDisabled("amazonec2-http-endpoint", flags.String("amazonec2-http-endpoint")); err != nil {
		return err
	}
	if d.HttpProtocolIpv6, err = enabledDisabled("amazonec2-http-protocol-ipv6", flags.String("amazonec2-http-protocol-ipv6")); err != nil {
		return err
	}
	d.HttpTokens = strings.ToLower(strings.TrimSpace(flags.String("amazonec2-http-tokens")))
	if d.HttpTokens == "" {
		d.HttpTokens = defaultHTTPTokens
	}
	if d.HttpTokens != "required" && d.HttpTokens != "optional" {
		return fmt.Errorf("--amazonec2-http-tokens %q: use required (IMDSv2) or optional", d.HttpTokens)
	}
	count := flags.Int("amazonec2-ipv6-address-count")
	if count < 0 {
		return fmt.Errorf("--amazonec2-ipv6-address-count %d: use 0 or more", count)
	}
	d.Ipv6AddressCount = int32(count)
	d.EnablePrimaryIpv6 = flags.Bool("amazonec2-enable-primary-ipv6")
	d.Ipv6AddressOnly = flags.Bool("amazonec2-ipv6-address-only")
	if d.Ipv6AddressOnly && d.Ipv6AddressCount < 1 {
		return errors.New("--amazonec2-ipv6-address-only needs --amazonec2-ipv6-address-count of 1 or more")
	}
	if d.Ipv6AddressOnly && (d.PrivateIPOnly || d.UsePrivateIP) {
		return errors.New("--amazonec2-ipv6-address-only excludes --amazonec2-private-address-only and --amazonec2-use-private-address")
	}
	if d.Ipv6AddressCount > 0 && defaultSources {
		d.SourceCIDRs = append(d.SourceCIDRs, anyIPv6)
	}

	d.SetSwarmConfigFromFlags(flags)
	if d.Id == "" {
		d.Id = newID()
	}
	return nil
}

var validRegion = regexp.MustCompile(`^[a-z]{2}(-[a-z0-9]+)+-[0-9]+$|^custom-endpoint$`)

var volumeTypes = []string{"gp3", "gp2", "io1", "io2", "st1", "sc1", "standard"}

// checkVolume applies EBS's rules on IOPS and throughput early, so a wrong
// combination fails before anything is made.
func checkVolume(volumeType string, iops, throughput int32) error {
	switch {
	case iops < 0:
		return fmt.Errorf("--amazonec2-volume-iops %d: use a positive number", iops)
	case throughput < 0:
		return fmt.Errorf("--amazonec2-volume-throughput %d: use a positive number of MiB/s", throughput)
	case iops > 0 && !slices.Contains([]string{"gp3", "io1", "io2"}, volumeType):
		return fmt.Errorf("--amazonec2-volume-iops applies to gp3, io1 and io2 volumes, not to %s", volumeType)
	case iops == 0 && (volumeType == "io1" || volumeType == "io2"):
		return fmt.Errorf("--amazonec2-volume-type %s needs --amazonec2-volume-iops", volumeType)
	case throughput > 0 && volumeType != "gp3":
		return fmt.Errorf("--amazonec2-volume-throughput applies to gp3 volumes only, not to %s", volumeType)
	}
	return nil
}

func enabledDisabled(flag, v string) (string, error) {
	v = strings.ToLower(strings.TrimSpace(v))
	switch v {
	case "", "enabled", "disabled":
		return v, nil
	}
	return "", fmt.Errorf("--%s %q: use enabled or disabled", flag, v)
}

// endpointURL turns --amazonec2-endpoint into the URL the SDK wants. As
// with the v1 SDK, a bare host[:port] gets https://, or http:// with
// --amazonec2-insecure-transport; "" keeps the SDK's regional endpoint.
func endpointURL(raw string, disableSSL bool) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", nil
	}
	if !strings.Contains(raw, "://") {
		scheme := "https://"
		if disableSSL {
			scheme = "http://"
		}
		raw = scheme + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("--amazonec2-endpoint %q is not a host name or an http(s):// URL", raw)
	}
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		return "", fmt.Errorf("--amazonec2-endpoint %q: scheme %q is not supported; use http:// or https://", raw, u.Scheme)
	}
	return u.String(), nil
}

// tag is one key and value.
type tag struct{ Key, Value string }

// parseTags reads the stock "key1,value1,key2,value2" form.
func parseTags(s string) ([]tag, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	if len(parts)%2 != 0 {
		return nil, fmt.Errorf("--amazonec2-tags %q: give keys and values in pairs, e.g. key1,value1,key2,value2", s)
	}
	var tags []tag
	for i := 0; i < len(parts); i += 2 {
		k, v := strings.TrimSpace(parts[i]), strings.TrimSpace(parts[i+1])
		switch {
		case k == "":
			return nil, fmt.Errorf("--amazonec2-tags %q: tag %d has an empty key", s, i/2+1)
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			return nil, fmt.Errorf("--amazonec2-tags: the key %q is reserved by AWS (aws: prefix)", k)
		case k == tagMachineID || k == tagMachineName || k == tagManaged:
			return nil, fmt.Errorf("--amazonec2-tags: the key %s is set by docker-machine itself", k)
		}
		tags = append(tags, tag{k, v})
	}
	if len(tags) > maxUserTags {
		return nil, fmt.Errorf("--amazonec2-tags: %d tags given; EC2 allows 50 per resource and docker-machine adds 3", len(tags))
	}
	return tags, nil
}

// portRule is one inbound rule: a port range and a protocol.
type portRule = portrule.Rule

func parsePortRule(s string) (portRule, error) { return portrule.Parse("amazonec2-open-port", s) }

// inboundRules are the rules the host needs: SSH and Docker, the legacy
// swarm port on a swarm master, and the ports asked for.
func (d *Driver) inboundRules() []portRule {
	ssh := d.SSHPort
	if ssh == 0 {
		ssh = defaultSSHPort
	}
	tcp := []int{ssh, dockerPort}
	if d.SwarmMaster {
		tcp = append(tcp, swarmPort)
	}
	return portrule.Inbound(d.OpenPorts, tcp...)
}

func cleanList(in []string) []string {
	var out []string
	for _, item := range in {
		for _, s := range strings.Split(item, ",") {
			if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

func newID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}
