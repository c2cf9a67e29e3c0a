package amazonec2

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	rpcdriver "github.com/docker/machine/libmachine/drivers/rpc"
	"github.com/docker/machine/libmachine/mcnflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// defaultValues returns every flag at its default, the way the CLI seeds
// RPCFlags.
func defaultValues(d *Driver) map[string]any {
	v := map[string]any{}
	for _, f := range d.GetCreateFlags() {
		switch f := f.(type) {
		case mcnflag.StringFlag:
			v[f.Name] = f.Value
		case mcnflag.IntFlag:
			v[f.Name] = f.Value
		case mcnflag.BoolFlag:
			v[f.Name] = false
		case mcnflag.StringSliceFlag:
			v[f.Name] = f.Value
		}
	}
	v["swarm-master"] = false
	v["swarm-host"] = ""
	v["swarm-discovery"] = ""
	return v
}

func configured(t *testing.T, extra map[string]any) (*Driver, error) {
	t.Helper()
	d := NewDriver("m1", t.TempDir())
	v := defaultValues(d)
	for k, x := range extra {
		v[k] = x
	}
	return d, d.SetConfigFromFlags(&rpcdriver.RPCFlags{Values: v})
}

type flagInfo struct {
	env string
	def any
}

func flagTable(d *Driver) map[string]flagInfo {
	out := map[string]flagInfo{}
	for _, f := range d.GetCreateFlags() {
		switch f := f.(type) {
		case mcnflag.StringFlag:
			out[f.Name] = flagInfo{f.EnvVar, f.Value}
		case mcnflag.IntFlag:
			out[f.Name] = flagInfo{f.EnvVar, f.Value}
		case mcnflag.BoolFlag:
			out[f.Name] = flagInfo{f.EnvVar, false}
		case mcnflag.StringSliceFlag:
			out[f.Name] = flagInfo{f.EnvVar, f.Value}
		}
	}
	return out
}

// Every flag of docker-machine 0.16.2's and rancher-machine's amazonec2
// keeps its name, env var and default. The defaults that differ on purpose
// are listed with the reason.
func TestFlagsKeepStockAndRancherNames(t *testing.T) {
	got := flagTable(NewDriver("", ""))
	stock := map[string]flagInfo{
		"amazonec2-access-key":                 {"AWS_ACCESS_KEY_ID", ""},
		"amazonec2-secret-key":                 {"AWS_SECRET_ACCESS_KEY", ""},
		"amazonec2-session-token":              {"AWS_SESSION_TOKEN", ""},
		"amazonec2-region":                     {"AWS_DEFAULT_REGION", "us-east-1"},
		"amazonec2-vpc-id":                     {"AWS_VPC_ID", ""},
		"amazonec2-zone":                       {"AWS_ZONE", "a"},
		"amazonec2-subnet-id":                  {"AWS_SUBNET_ID", ""},
		"amazonec2-security-group-readonly":    {"AWS_SECURITY_GROUP_READONLY", false},
		"amazonec2-security-group":             {"AWS_SECURITY_GROUP", []string{"docker-machine"}},
		"amazonec2-open-port":                  {"", []string(nil)},
		"amazonec2-tags":                       {"AWS_TAGS", ""},
		"amazonec2-instance-type":              {"AWS_INSTANCE_TYPE", "t2.micro"},
		"amazonec2-root-size":                  {"AWS_ROOT_SIZE", 16},
		"amazonec2-iam-instance-profile":       {"AWS_INSTANCE_PROFILE", ""},
		"amazonec2-ssh-port":                   {"AWS_SSH_PORT", 22},
		"amazonec2-ssh-user":                   {"AWS_SSH_USER", "ubuntu"},
		"amazonec2-request-spot-instance":      {"", false},
		"amazonec2-spot-price":                 {"", "0.50"},
		"amazonec2-block-duration-minutes":     {"", 0},
		"amazonec2-private-address-only":       {"", false},
		"amazonec2-use-private-address":        {"", false},
		"amazonec2-monitoring":                 {"", false},
		"amazonec2-use-ebs-optimized-instance": {"", false},
		"amazonec2-ssh-keypath":                {"AWS_SSH_KEYPATH", ""},
		"amazonec2-keypair-name":               {"AWS_KEYPAIR_NAME", ""},
		"amazonec2-retries":                    {"", 5},
		"amazonec2-endpoint":                   {"AWS_ENDPOINT", ""},
		"amazonec2-insecure-transport":         {"AWS_INSECURE_TRANSPORT", false},
		"amazonec2-userdata":                   {"AWS_USERDATA", ""},
		// rancher-machine's additions.
		"amazonec2-encrypt-ebs-volume":  {"AWS_ENCRYPT_EBS_VOLUME", false},
		"amazonec2-kms-key":             {"AWS_KMS_KEY", ""},
		"amazonec2-http-endpoint":       {"AWS_HTTP_ENDPOINT", ""},
		"amazonec2-http-protocol-ipv6":  {"AWS_HTTP_PROTOCOL_IPV6", ""},
		"amazonec2-ipv6-address-count":  {"AWS_IPV6_ADDRESS_COUNT", 0},
		"amazonec2-enable-primary-ipv6": {"AWS_ENABLE_PRIMARY_IPV6", false},
		"amazonec2-ipv6-address-only":   {"AWS_IPV6_ADDRESS_ONLY", false},
	}
	changed := map[string]flagInfo{
		"amazonec2-ami":         {"AWS_AMI", ""},                 // was a 2017 region map: now the newest Ubuntu LTS
		"amazonec2-device-name": {"AWS_DEVICE_NAME", ""},         // was /dev/sda1: now the AMI's root device (as rancher)
		"amazonec2-volume-type": {"AWS_VOLUME_TYPE", "gp3"},      // was gp2
		"amazonec2-http-tokens": {"AWS_HTTP_TOKENS", "required"}, // rancher's "" left IMDSv1 on
	}
	for name, want := range stock {
		require.Contains(t, got, name)
		assert.Equal(t, want.env, got[name].env, "env var of --%s", name)
		assert.Equal(t, want.def, got[name].def, "default of --%s", name)
	}
	for name, want := range changed {
		require.Contains(t, got, name)
		assert.Equal(t, want, got[name], "--%s", name)
	}
	for _, name := range []string{"amazonec2-profile", "amazonec2-volume-iops", "amazonec2-volume-throughput",
		"amazonec2-security-group-id", "amazonec2-source-cidr"} {
		assert.Contains(t, got, name, "addition --%s", name)
	}
	assert.Equal(t, "AWS_PROFILE", got["amazonec2-profile"].env)
	assert.Len(t, got, len(stock)+len(changed)+5, "no flag beyond those listed")
}

func TestSetConfigFromFlagsDefaults(t *testing.T) {
	d, err := configured(t, nil)
	require.NoError(t, err)
	assert.Equal(t, "us-east-1", d.Region)
	assert.Equal(t, "us-east-1a", d.regionZone())
	assert.Equal(t, []string{"docker-machine"}, d.SecurityGroupNames)
	assert.Equal(t, []string{"0.0.0.0/0"}, d.SourceCIDRs)
	assert.Equal(t, "gp3", d.VolumeType)
	assert.Equal(t, "required", d.HttpTokens)
	assert.Equal(t, int64(16), d.RootSize)
	assert.Equal(t, 5, d.RetryCount)
	assert.Equal(t, "ubuntu", d.GetSSHUsername())
	assert.Len(t, d.Id, 32)
	assert.Empty(t, d.AMI, "resolved by PreCreateCheck")
	assert.Equal(t, []portRule{{From: 22, To: 22, Proto: "tcp"}, {From: 2376, To: 2376, Proto: "tcp"}}, d.inboundRules(), "only SSH and Docker")

	again := d.Id
	require.NoError(t, d.SetConfigFromFlags(&rpcdriver.RPCFlags{Values: defaultValues(d)}))
	assert.Equal(t, again, d.Id, "the machine keeps its id")
}

func TestSetConfigFromFlagsOptions(t *testing.T) {
	d, err := configured(t, map[string]any{
		"amazonec2-open-port":          []string{"8080", "9000-9010/udp"},
		"swarm-master":                 true,
		"amazonec2-security-group-id":  []string{"sg-1", "sg-2"},
		"amazonec2-source-cidr":        []string{"203.0.113.7/24"},
		"amazonec2-zone":               "eu-west-1c",
		"amazonec2-region":             "eu-west-1",
		"amazonec2-volume-type":        "io2",
		"amazonec2-volume-iops":        4000,
		"amazonec2-kms-key":            "alias/ebs",
		"amazonec2-ipv6-address-count": 1,
		"amazonec2-endpoint":           "ec2.example.test",
	})
	require.NoError(t, err)
	assert.Equal(t, []portRule{{From: 22, To: 22, Proto: "tcp"}, {From: 2376, To: 2376, Proto: "tcp"}, {From: 3376, To: 3376, Proto: "tcp"}, {From: 8080, To: 8080, Proto: "tcp"}, {From: 9000, To: 9010, Proto: "udp"}}, d.inboundRules())
	assert.Empty(t, d.SecurityGroupNames, "with ids, the default name is not used")
	assert.Equal(t, []string{"sg-1", "sg-2"}, d.GivenSecurityGroupIds)
	assert.Equal(t, []string{"203.0.113.0/24"}, d.SourceCIDRs, "an explicit source gets no ::/0")
	assert.Equal(t, "eu-west-1c", d.regionZone())
	assert.True(t, d.EncryptEbsVolume, "a KMS key implies encryption")

	d, err = configured(t, map[string]any{"amazonec2-ipv6-address-count": 2, "amazonec2-ipv6-address-only": true,
		"amazonec2-security-group": []string{"a", "b"}, "amazonec2-security-group-id": []string{"sg-9"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"0.0.0.0/0", "::/0"}, d.SourceCIDRs)
	assert.Equal(t, []string{"a", "b"}, d.SecurityGroupNames, "names given besides ids are kept")
}

func TestSetConfigFromFlagsErrors(t *testing.T) {
	key := filepath.Join(t.TempDir(), "id")
	require.NoError(t, os.WriteFile(key, []byte("k"), 0o600))
	big := filepath.Join(t.TempDir(), "userdata")
	require.NoError(t, os.WriteFile(big, make([]byte, maxUserDataBytes+1), 0o600))
	for _, tc := range []struct {
		flags map[string]any
		want  string
	}{
		{map[string]any{"amazonec2-access-key": "AKIA1"}, "must be given together"},
		{map[string]any{"amazonec2-insecure-transport": true}, "using --amazonec2-insecure-transport also requires --amazonec2-endpoint"},
		{map[string]any{"amazonec2-keypair-name": "k"}, "using --amazonec2-keypair-name also requires --amazonec2-ssh-keypath"},
		{map[string]any{"amazonec2-ssh-keypath": key}, "id.pub is needed"},
		{map[string]any{"amazonec2-region": "bad region!"}, "not a region name"},
		{map[string]any{"amazonec2-endpoint": "ftp://x"}, `scheme "ftp"`},
		{map[string]any{"amazonec2-tags": "a,1,b"}, "in pairs"},
		{map[string]any{"amazonec2-tags": "aws:x,1"}, "reserved by AWS"},
		{map[string]any{"amazonec2-tags": "docker-machine-id,1"}, "set by docker-machine"},
		{map[string]any{"amazonec2-open-port": []string{"70000"}}, "--amazonec2-open-port"},
		{map[string]any{"amazonec2-open-port": []string{"80/icmp"}}, "tcp or udp"},
		{map[string]any{"amazonec2-source-cidr": []string{"nowhere"}}, "not a CIDR"},
		{map[string]any{"amazonec2-volume-type": "io1"}, "needs --amazonec2-volume-iops"},
		{map[string]any{"amazonec2-volume-type": "gp2", "amazonec2-volume-throughput": 250}, "gp3 volumes only"},
		{map[string]any{"amazonec2-volume-type": "st1", "amazonec2-volume-iops": 3000}, "applies to gp3, io1 and io2"},
		{map[string]any{"amazonec2-volume-type": "ssd"}, "not an EBS volume type"},
		{map[string]any{"amazonec2-http-tokens": "maybe"}, "required (IMDSv2) or optional"},
		{map[string]any{"amazonec2-http-endpoint": "on"}, "enabled or disabled"},
		{map[string]any{"amazonec2-http-protocol-ipv6": "yes"}, "enabled or disabled"},
		{map[string]any{"amazonec2-ipv6-address-only": true}, "needs --amazonec2-ipv6-address-count"},
		{map[string]any{"amazonec2-security-group-id": []string{"web"}}, "not a security group id"},
		{map[string]any{"amazonec2-spot-price": "cheap"}, "not a price"},
		{map[string]any{"amazonec2-retries": -2}, "-1 to disable"},
		{map[string]any{"amazonec2-root-size": -1}, "out of range"},
		{map[string]any{"amazonec2-userdata": "/nonexistent/user-data"}, "unable to read --amazonec2-userdata"},
		{map[string]any{"amazonec2-userdata": big}, "at most 16384"},
	} {
		_, err := configured(t, tc.flags)
		require.Error(t, err, "%v", tc.flags)
		assert.Contains(t, err.Error(), tc.want, "%v", tc.flags)
	}
}

// Keys that came from the environment are not stored; keys given as
// flags are, as the stock driver stores them.
func TestCredentialsFromEnvAreNotStored(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAENVKEY")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "env-secret-value")
	d, err := configured(t, map[string]any{"amazonec2-access-key": "AKIAENVKEY", "amazonec2-secret-key": "env-secret-value"})
	require.NoError(t, err)
	raw, err := json.Marshal(d)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), "AKIAENVKEY")
	assert.NotContains(t, string(raw), "env-secret-value")

	d, err = configured(t, map[string]any{"amazonec2-access-key": "AKIAFLAGKEY", "amazonec2-secret-key": "flag-secret-value"})
	require.NoError(t, err)
	raw, err = json.Marshal(d)
	require.NoError(t, err)
	var stored map[string]any
	require.NoError(t, json.Unmarshal(raw, &stored))
	assert.Equal(t, "AKIAFLAGKEY", stored["AccessKey"])
	assert.Equal(t, "flag-secret-value", stored["SecretKey"])
}

func TestEndpointURL(t *testing.T) {
	for _, tc := range []struct {
		raw      string
		insecure bool
		want     string
	}{
		{"", false, ""},
		{"ec2.example.test", false, "https://ec2.example.test"},
		{"127.0.0.1:8080", true, "http://127.0.0.1:8080"},
		{"http://127.0.0.1:8080", false, "http://127.0.0.1:8080"},
		{"https://vpce-1.ec2.us-east-1.vpce.amazonaws.com/", true, "https://vpce-1.ec2.us-east-1.vpce.amazonaws.com/"},
	} {
		got, err := endpointURL(tc.raw, tc.insecure)
		require.NoError(t, err, tc.raw)
		assert.Equal(t, tc.want, got, tc.raw)
	}
	_, err := endpointURL("http://user:pw@host", false)
	assert.Error(t, err)
}

func TestMachineTags(t *testing.T) {
	d, err := configured(t, map[string]any{"amazonec2-tags": "team,infra,Name,web-1"})
	require.NoError(t, err)
	got := map[string]string{}
	for _, tg := range d.machineTags() {
		got[*tg.Key] = *tg.Value
	}
	assert.Equal(t, map[string]string{"Name": "web-1", "team": "infra", tagMachineID: d.Id, tagMachineName: "m1"}, got,
		"a Name tag of the user wins over the machine name")
}

func TestPickUbuntuLTS(t *testing.T) {
	img := func(id, name, created string) types.Image {
		return types.Image{ImageId: ptr(id), Name: ptr(name), CreationDate: ptr(created)}
	}
	images := []types.Image{
		img("ami-jammy", "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20250101", "2025-01-01T00:00:00.000Z"),
		img("ami-noble-old", "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20240701", "2024-07-01T00:00:00.000Z"),
		img("ami-noble", "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250610.1", "2025-06-10T00:00:00.000Z"),
		img("ami-noble-b", "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250610", "2025-06-10T00:00:00.000Z"),
		img("ami-oracular", "ubuntu/images/hvm-ssd-gp3/ubuntu-oracular-24.10-amd64-server-20250701", "2025-07-01T00:00:00.000Z"),
		img("ami-plucky", "ubuntu/images/hvm-ssd-gp3/ubuntu-plucky-25.04-amd64-server-20250801", "2025-08-01T00:00:00.000Z"),
		img("ami-pro", "ubuntu-pro-server/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-pro-server-20250901", "2025-09-01T00:00:00.000Z"),
		img("ami-minimal", "ubuntu-minimal/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-minimal-20250901", "2025-09-01T00:00:00.000Z"),
	}
	got := pickUbuntuLTS(images)
	require.NotNil(t, got)
	assert.Equal(t, "ami-noble", *got.ImageId, "24.04 is the newest LTS; 24.10 and 25.04 are interim releases")
	assert.Nil(t, pickUbuntuLTS(images[4:6]))
}

func TestArchitecture(t *testing.T) {
	for it, want := range map[string]string{
		"t2.micro": "x86_64", "m6i.large": "x86_64", "g4dn.xlarge": "x86_64", "c5n.9xlarge": "x86_64",
		"t4g.small": "arm64", "m7gd.large": "arm64", "c6gn.medium": "arm64", "g5g.xlarge": "arm64",
		"im4gn.large": "arm64", "a1.medium": "arm64",
	} {
		assert.Equal(t, want, architecture(it), it)
	}
}

func TestRegionZone(t *testing.T) {
	d := NewDriver("m", "")
	d.Region, d.Zone = "ap-south-1", "b"
	assert.Equal(t, "ap-south-1b", d.regionZone())
	d.Zone = "ap-south-1c"
	assert.Equal(t, "ap-south-1c", d.regionZone())
	d.Zone = "use1-az1"
	assert.Equal(t, "use1-az1", d.regionZone(), "a zone id is used as given")
}
