package aliyunecs

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	rpcdriver "github.com/docker/machine/libmachine/drivers/rpc"
	"github.com/docker/machine/libmachine/mcnflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The earlier driver's flags: every one keeps its name, env var and default.
var anchorFlags = []struct {
	name, env string
	def       any
}{
	{"aliyunecs-access-key-id", "ECS_ACCESS_KEY_ID", ""},
	{"aliyunecs-access-key-secret", "ECS_ACCESS_KEY_SECRET", ""},
	{"aliyunecs-image-id", "ECS_IMAGE_ID", ""},
	{"aliyunecs-region", "ECS_REGION", "cn-hangzhou"},
	{"aliyunecs-vpc-id", "ECS_VPC_ID", ""},
	{"aliyunecs-vswitch-id", "ECS_VSWITCH_ID", ""},
	{"aliyunecs-zone", "ECS_ZONE", ""},
	{"aliyunecs-security-group", "ECS_SECURITY_GROUP", "docker-machine"},
	{"aliyunecs-instance-type", "ECS_INSTANCE_TYPE", "ecs.n4.small"},
	{"aliyunecs-private-ip", "ECS_VPC_PRIVATE_IP", ""},
	{"aliyunecs-description", "ECS_DESCRIPTION", ""},
	{"aliyunecs-ssh-password", "ECS_SSH_PASSWORD", ""},
	{"aliyunecs-ssh-keypair", "ECS_SSH_KEYPAIR", ""},
	{"aliyunecs-ssh-keypath", "ECS_SSH_KEYPATH", ""},
	{"aliyunecs-private-address-only", "ECS_PRIVATE_ADDR_ONLY", nil},
	{"aliyunecs-internet-max-bandwidth", "ECS_INTERNET_MAX_BANDWIDTH", 1},
	{"aliyunecs-internet-charge-type", "ECS_INTERNET_CHARGE_TYPE", "PayByTraffic"},
	{"aliyunecs-route-cidr", "ECS_ROUTE_CIDR", ""},
	{"aliyunecs-slb-id", "ECS_SLB_ID", ""},
	{"aliyunecs-tag", "ECS_TAGS", []string(nil)},
	{"aliyunecs-disk-size", "ECS_DISK_SIZE", 0},
	{"aliyunecs-disk-fs", "ECS_DISK_FS", "ext4"},
	{"aliyunecs-system-disk-size", "ECS_SYSTEM_DISK_SIZE", 40},
	{"aliyunecs-system-disk-category", "ECS_SYSTEM_DISK_CATEGORY", ""},
	{"aliyunecs-disk-category", "ECS_DISK_CATEGORY", ""},
	{"aliyunecs-upgrade-kernel", "ECS_UPGRADE_KERNEL", nil},
	{"aliyunecs-io-optimized", "ECS_IO_OPTIMIZED", ""},
	{"aliyunecs-api-endpoint", "ECS_API_ENDPOINT", ""},
	{"aliyunecs-resource-group-id", "ECS_RESOURCE_GROUP_ID", ""},
}

func TestEveryAnchorFlagKeepsNameEnvAndDefault(t *testing.T) {
	got := map[string]mcnflag.Flag{}
	for _, f := range NewDriver("", "").GetCreateFlags() {
		_, dup := got[f.String()]
		require.False(t, dup, "flag %s declared twice", f.String())
		got[f.String()] = f
	}
	for _, want := range anchorFlags {
		f, ok := got[want.name]
		if !assert.True(t, ok, "flag %s is missing", want.name) {
			continue
		}
		var env string
		switch f := f.(type) {
		case mcnflag.StringFlag:
			env = f.EnvVar
		case mcnflag.IntFlag:
			env = f.EnvVar
		case mcnflag.BoolFlag:
			env = f.EnvVar
		case mcnflag.StringSliceFlag:
			env = f.EnvVar
		}
		assert.Equal(t, want.env, env, "env var of %s", want.name)
		assert.Equal(t, want.def, f.Default(), "default of %s", want.name)
	}
}

// Every anchor flag lands in the driver with its meaning.
func TestSetConfigFromFlagsReadsEveryFlag(t *testing.T) {
	keyDir := t.TempDir()
	key := filepath.Join(keyDir, "id")
	require.NoError(t, os.WriteFile(key, []byte("private"), 0o600))
	require.NoError(t, os.WriteFile(key+".pub", []byte("ssh-rsa AAAA test"), 0o644))
	userdata := filepath.Join(keyDir, "ud.sh")
	require.NoError(t, os.WriteFile(userdata, []byte("#!/bin/sh\necho hi\n"), 0o644))

	d := NewDriver("node-1", t.TempDir())
	v := flagValues(d, nil)
	set := map[string]any{
		"aliyunecs-access-key-id":          "LTAIflagkey",
		"aliyunecs-access-key-secret":      "flagsecret-123456",
		"aliyunecs-image-id":               "ubuntu_20_04_x64_20G_alibase_20230101.vhd",
		"aliyunecs-region":                 "cn-beijing",
		"aliyunecs-vpc-id":                 "vpc-1",
		"aliyunecs-vswitch-id":             "vsw-1",
		"aliyunecs-zone":                   "cn-beijing-b",
		"aliyunecs-security-group":         "my-sg",
		"aliyunecs-instance-type":          "ecs.g6.large",
		"aliyunecs-private-ip":             "172.16.0.10",
		"aliyunecs-description":            "a host",
		"aliyunecs-ssh-password":           "Passw0rd!x",
		"aliyunecs-ssh-keypair":            "kp-existing",
		"aliyunecs-ssh-keypath":            key,
		"aliyunecs-private-address-only":   true,
		"aliyunecs-internet-max-bandwidth": 5,
		"aliyunecs-internet-charge-type":   "paybybandwidth",
		"aliyunecs-route-cidr":             "172.18.1.7/24",
		"aliyunecs-slb-id":                 "lb-1",
		"aliyunecs-tag":                    []string{"a=1", "b=2,c=3"},
		"aliyunecs-disk-size":              50,
		"aliyunecs-disk-fs":                "XFS",
		"aliyunecs-system-disk-size":       60,
		"aliyunecs-system-disk-category":   "cloud_essd",
		"aliyunecs-disk-category":          "cloud_ssd",
		"aliyunecs-upgrade-kernel":         true,
		"aliyunecs-io-optimized":           "true",
		"aliyunecs-api-endpoint":           "http://127.0.0.1:1234",
		"aliyunecs-resource-group-id":      "rg-1",
		"aliyunecs-source-cidr":            "203.0.113.0/24",
		"aliyunecs-open-port":              []string{"80", "8000-8100/udp"},
		"aliyunecs-slb-weight":             30,
		"aliyunecs-userdata":               userdata,
	}
	for k, x := range set {
		v[k] = x
	}
	require.NoError(t, d.SetConfigFromFlags(&rpcdriver.RPCFlags{Values: v}))

	assert.Equal(t, "LTAIflagkey", d.AccessKey)
	assert.Equal(t, "flagsecret-123456", d.SecretKey)
	assert.Equal(t, "ubuntu_20_04_x64_20G_alibase_20230101.vhd", d.ImageID)
	assert.Equal(t, "cn-beijing", d.Region)
	assert.Equal(t, "vpc-1", d.VpcId)
	assert.Equal(t, "vsw-1", d.VSwitchId)
	assert.Equal(t, "cn-beijing-b", d.Zone)
	assert.Equal(t, "my-sg", d.SecurityGroupName)
	assert.Equal(t, "ecs.g6.large", d.InstanceType)
	assert.Equal(t, "172.16.0.10", d.RequestedPrivateIP)
	assert.Equal(t, "a host", d.Description)
	assert.Equal(t, "Passw0rd!x", d.SSHPassword)
	assert.Equal(t, "kp-existing", d.KeyPairName)
	assert.True(t, d.ExistingKeyPair)
	assert.Equal(t, key, d.SSHKey)
	assert.True(t, d.PrivateIPOnly)
	assert.Equal(t, 5, d.InternetMaxBandwidthOut)
	assert.Equal(t, "PayByBandwidth", d.InternetChargeType)
	assert.Equal(t, "172.18.1.0/24", d.RouteCIDR, "the CIDR is normalised")
	assert.Equal(t, "lb-1", d.SLBID)
	assert.Equal(t, map[string]string{"a": "1", "b": "2", "c": "3"}, d.Tags)
	assert.Equal(t, 50, d.DiskSize)
	assert.Equal(t, "xfs", d.DiskFS)
	assert.Equal(t, 60, d.SystemDiskSize)
	assert.Equal(t, "cloud_essd", d.SystemDiskCategory)
	assert.Equal(t, "cloud_ssd", d.DiskCategory)
	assert.True(t, d.UpgradeKernel)
	assert.Equal(t, "optimized", d.IoOptimized)
	assert.Equal(t, "http://127.0.0.1:1234", d.APIEndpoint)
	assert.Equal(t, "rg-1", d.ResourceGroupId)
	assert.Equal(t, "203.0.113.0/24", d.SourceCIDR)
	assert.Equal(t, []string{"80/tcp", "8000-8100/udp"}, d.OpenPorts)
	assert.Equal(t, 30, d.SLBWeight)
	assert.Equal(t, userdata, d.UserDataFile)
	assert.Equal(t, "root", d.GetSSHUsername())
	assert.Len(t, d.MachineID, 16)

	raw, err := json.Marshal(d)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), "Passw0rd!x", "the SSH password is never stored")
	assert.Contains(t, string(raw), `"SecretKey":"flagsecret-123456"`, "keys given as flags are stored, as stock drivers do")
}

func TestSetConfigFromFlagsRejectsBadValues(t *testing.T) {
	for _, tc := range []struct {
		name  string
		set   map[string]any
		wants string
	}{
		{"bandwidth", map[string]any{"aliyunecs-internet-max-bandwidth": 101}, "1 to 100"},
		{"charge type", map[string]any{"aliyunecs-internet-charge-type": "free"}, "PayByTraffic or PayByBandwidth"},
		{"route cidr", map[string]any{"aliyunecs-route-cidr": "172.18.1.0"}, "IPv4 CIDR"},
		{"tag", map[string]any{"aliyunecs-tag": []string{"novalue"}}, "key=value"},
		{"reserved tag", map[string]any{"aliyunecs-tag": []string{"aliyun:x=1"}}, "reserves"},
		{"own tag", map[string]any{"aliyunecs-tag": []string{"docker-machine-id=1"}}, "set by docker-machine"},
		{"disk fs", map[string]any{"aliyunecs-disk-fs": "btrfs"}, "ext4 or xfs"},
		{"disk size", map[string]any{"aliyunecs-disk-size": -1}, "positive"},
		{"system disk", map[string]any{"aliyunecs-system-disk-size": 10}, "20 to 2048"},
		{"io optimized", map[string]any{"aliyunecs-io-optimized": "maybe"}, "true (optimized) or false (none)"},
		{"endpoint scheme", map[string]any{"aliyunecs-api-endpoint": "ftp://x"}, "http:// or https://"},
		{"endpoint path", map[string]any{"aliyunecs-api-endpoint": "http://127.0.0.1:1/x"}, "only a scheme and host"},
		{"key pair without key", map[string]any{"aliyunecs-ssh-keypair": "kp"}, "needs --aliyunecs-ssh-keypath"},
		{"missing key", map[string]any{"aliyunecs-ssh-keypath": "/nonexistent/key"}, "cannot read"},
		{"password rule", map[string]any{"aliyunecs-ssh-password": "short"}, "ECS rule"},
		{"half key", map[string]any{"aliyunecs-access-key-id": "only-id"}, "together"},
		{"private ip", map[string]any{"aliyunecs-private-ip": "10.0.0"}, "not an IP address"},
		{"open port", map[string]any{"aliyunecs-open-port": []string{"70000"}}, "1-65535"},
		{"open port proto", map[string]any{"aliyunecs-open-port": []string{"80/icmp"}}, "tcp or udp"},
		{"source cidr", map[string]any{"aliyunecs-source-cidr": "anywhere"}, "IPv4 CIDR"},
		{"slb weight", map[string]any{"aliyunecs-slb-weight": 101}, "0 to 100"},
		{"eip and private", map[string]any{"aliyunecs-eip": true, "aliyunecs-private-address-only": true}, "exclude each other"},
		{"userdata", map[string]any{"aliyunecs-userdata": "/nonexistent/ud"}, "--aliyunecs-userdata"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDriver("m", t.TempDir())
			v := flagValues(d, nil)
			for k, x := range tc.set {
				v[k] = x
			}
			err := d.SetConfigFromFlags(&rpcdriver.RPCFlags{Values: v})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wants)
			if pw, ok := tc.set["aliyunecs-ssh-password"].(string); ok {
				assert.NotContains(t, err.Error(), pw, "the password stays out of errors")
			}
		})
	}
}

// Keys from ECS_ACCESS_KEY_* are used but not written to config.json; a
// reload resolves them again from the environment.
func TestEnvCredentialsAreNotStored(t *testing.T) {
	s := startSim(t, fastFaults())
	id, secret := s.Credentials()
	t.Setenv("ECS_ACCESS_KEY_ID", id)
	t.Setenv("ECS_ACCESS_KEY_SECRET", secret)

	d := NewDriver("envcreds", t.TempDir())
	v := flagValues(d, s)
	// The CLI fills a flag from its env var, so the driver sees the same
	// values as flags.
	v["aliyunecs-access-key-id"], v["aliyunecs-access-key-secret"] = id, secret
	require.NoError(t, d.SetConfigFromFlags(&rpcdriver.RPCFlags{Values: v}))
	require.NoError(t, d.PreCreateCheck())

	raw, err := json.Marshal(d)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), secret)
	assert.NotContains(t, string(raw), id)

	loaded := NewDriver("", "")
	require.NoError(t, json.Unmarshal(raw, loaded))
	a, err := loaded.api()
	require.NoError(t, err)
	assert.Equal(t, credsEnv, a.source)
	_, err = a.regions(t.Context())
	assert.NoError(t, err, "the reloaded driver signs with the keys from the environment")
}

// Without flags or ECS_* keys the SDK default chain is used, starting with
// ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET; nothing of it is stored.
func TestDefaultCredentialChain(t *testing.T) {
	s := startSim(t, fastFaults())
	id, secret := s.Credentials()
	d := NewDriver("chain", t.TempDir())
	v := flagValues(d, s)
	v["aliyunecs-access-key-id"], v["aliyunecs-access-key-secret"] = "", ""
	require.NoError(t, d.SetConfigFromFlags(&rpcdriver.RPCFlags{Values: v}))

	err := d.PreCreateCheck()
	require.Error(t, err, "no credentials anywhere")
	assert.Contains(t, err.Error(), "ECS_ACCESS_KEY_ID")

	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", id)
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret)
	d2 := newDriver(t, s, "chain", map[string]any{"aliyunecs-access-key-id": "", "aliyunecs-access-key-secret": ""})
	require.NoError(t, d2.PreCreateCheck())
	assert.Equal(t, credsChain, d2.client.source)
	raw, err := json.Marshal(d2)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), secret)
}

func TestParseEndpoint(t *testing.T) {
	for in, want := range map[string]endpoint{
		"":                         {},
		"ecs.example.test":         {host: "ecs.example.test", scheme: "HTTPS"},
		"127.0.0.1:8080":           {host: "127.0.0.1:8080", scheme: "HTTPS"},
		"http://127.0.0.1:8080":    {host: "127.0.0.1:8080", scheme: "HTTP"},
		"http://127.0.0.1:8080/":   {host: "127.0.0.1:8080", scheme: "HTTP"},
		"HTTPS://ecs.example.test": {host: "ecs.example.test", scheme: "HTTPS"},
	} {
		got, err := parseEndpoint(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"http://", "http://u:p@h", "h/x", "tcp://h:1"} {
		_, err := parseEndpoint(bad)
		assert.Error(t, err, bad)
	}
}

func TestResourceName(t *testing.T) {
	assert.Equal(t, "node-1", resourceName("node-1"))
	assert.Equal(t, "docker-machine-1node", resourceName("1node"), "ECS names start with a letter")
	assert.Equal(t, "docker-machine-n", resourceName("n"), "ECS names have at least 2 characters")
}
