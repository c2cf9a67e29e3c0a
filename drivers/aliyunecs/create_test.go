package aliyunecs

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/docker/machine/libmachine/state"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/drivers/internal/sshkey"
	"github.com/fleetdock/machine/libmachine/capability"
)

func TestInstanceStateMapsEveryStatus(t *testing.T) {
	for status, want := range map[string]state.State{
		"Pending":  state.Starting,
		"Starting": state.Starting,
		"Running":  state.Running,
		"Stopping": state.Stopping,
		"Stopped":  state.Stopped,
		"Expired":  state.Error,
		"Deleted":  state.Error,
		"Unknown":  state.None,
	} {
		assert.Equal(t, want, instanceState(status), status)
	}
}

func TestNewestUbuntuLTS(t *testing.T) {
	images := []ecs.Image{
		{ImageId: "ubuntu_20_04_x64_20G_alibase_20240101.vhd", Platform: "Ubuntu", CreationTime: "2024-01-01T00:00:00Z"},
		{ImageId: "ubuntu_23_10_x64_20G_alibase_20240301.vhd", Platform: "Ubuntu", CreationTime: "2024-03-01T00:00:00Z"},
		{ImageId: "ubuntu_24_04_x64_20G_alibase_20240501.vhd", Platform: "Ubuntu", CreationTime: "2024-05-01T00:00:00Z"},
		{ImageId: "ubuntu_24_04_x64_20G_alibase_20240901.vhd", Platform: "Ubuntu", CreationTime: "2024-09-01T00:00:00Z"},
		{ImageId: "ubuntu_24_04_arm64_20G_alibase_20241001.vhd", Platform: "Ubuntu", Architecture: "arm64", CreationTime: "2024-10-01T00:00:00Z"},
		{ImageId: "ubuntu_25_04_x64_20G_alibase_20250501.vhd", Platform: "Ubuntu", CreationTime: "2025-05-01T00:00:00Z"},
		{ImageId: "debian_12_4_x64_20G_alibase_20240126.vhd", Platform: "Debian", CreationTime: "2025-01-26T00:00:00Z"},
		{ImageId: "m-custom", OSName: "Ubuntu  26.04 64位", Platform: "Ubuntu", Status: "Deprecated"},
	}
	id, ok := newestUbuntuLTS(images)
	require.True(t, ok)
	assert.Equal(t, "ubuntu_24_04_x64_20G_alibase_20240901.vhd", id, "24.04 is the newest LTS; 25.04 is not LTS; its newest x86 build wins")

	_, ok = newestUbuntuLTS(images[6:7])
	assert.False(t, ok, "no Ubuntu at all")
}

func TestDefaultImageComesFromDescribeImages(t *testing.T) {
	s := startSim(t, fastFaults())
	d := newDriver(t, s, "img", nil)
	require.NoError(t, d.PreCreateCheck())
	assert.Equal(t, "ubuntu_22_04_x64_20G_alibase_20240130.vhd", d.ImageID, "the simulator's newest Ubuntu LTS")

	d2 := newDriver(t, s, "img2", map[string]any{"aliyunecs-image-id": "ubuntu_16_0402_64_20G_alibase_20170818.vhd"})
	err := d2.PreCreateCheck()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "does not exist in region cn-hangzhou")
}

func TestRegionIsCheckedAgainstDescribeRegions(t *testing.T) {
	s := startSim(t, fastFaults())
	d := newDriver(t, s, "r", map[string]any{"aliyunecs-region": "cn-nowhere"})
	err := d.PreCreateCheck()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `region "cn-nowhere" is not available`)
	assert.Contains(t, err.Error(), "cn-chengdu", "the error lists the regions DescribeRegions gave")

	// cn-chengdu was missing from the earlier driver's fixed list (issue #47).
	d = newDriver(t, s, "r2", map[string]any{"aliyunecs-region": "cn-chengdu"})
	require.NoError(t, d.PreCreateCheck())
	assert.Equal(t, "cn-chengdu", d.Region)
}

func TestNetworkResolution(t *testing.T) {
	s := startSim(t, fastFaults())
	r := s.resources()
	var bjB, bjVPC string
	for _, vs := range r.VSwitches {
		if vs.ZoneID == "cn-beijing-b" {
			bjB, bjVPC = vs.ID, vs.VpcID
		}
	}
	require.NotEmpty(t, bjB)

	// Zone only: the zone's default VSwitch.
	d := newDriver(t, s, "n1", map[string]any{"aliyunecs-region": "cn-beijing", "aliyunecs-zone": "cn-beijing-b"})
	require.NoError(t, d.PreCreateCheck())
	assert.Equal(t, bjB, d.VSwitchId)
	assert.Equal(t, bjVPC, d.VpcId)

	// VSwitch only: VPC and zone follow from it.
	d = newDriver(t, s, "n2", map[string]any{"aliyunecs-region": "cn-beijing", "aliyunecs-vswitch-id": bjB})
	require.NoError(t, d.PreCreateCheck())
	assert.Equal(t, bjVPC, d.VpcId)
	assert.Equal(t, "cn-beijing-b", d.Zone)

	// A VSwitch of another zone is refused with a reason.
	d = newDriver(t, s, "n3", map[string]any{"aliyunecs-region": "cn-beijing", "aliyunecs-vswitch-id": bjB, "aliyunecs-zone": "cn-beijing-a"})
	err := d.PreCreateCheck()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is in zone cn-beijing-b")

	d = newDriver(t, s, "n4", map[string]any{"aliyunecs-region": "cn-beijing", "aliyunecs-vswitch-id": "vsw-missing"})
	err = d.PreCreateCheck()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "check --aliyunecs-vswitch-id")
}

func TestPreCreateCheckSLB(t *testing.T) {
	s := startSim(t, fastFaults())
	d := newDriver(t, s, "lbcheck", map[string]any{"aliyunecs-slb-id": "lb-missing"})
	err := d.PreCreateCheck()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "load balancer lb-missing does not exist")
	assert.Empty(t, s.snapshot().Instances)
}

// A full create with every optional resource: data disk, EIP, route entry,
// user data, extra ports, a password. Then rm leaves the cloud as it was.
func TestCreateWithEverything(t *testing.T) {
	s := startSim(t, fastFaults())
	lb := s.createSLB("cn-hangzhou")
	before := s.snapshot()
	ud := filepath.Join(t.TempDir(), "ud.sh")
	require.NoError(t, os.WriteFile(ud, []byte("#!/bin/sh\ntouch /tmp/hello\n"), 0o644))

	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(prev) })

	const password = "S3cret!pass"
	d := newDriver(t, s, "full", map[string]any{
		"aliyunecs-slb-id":       lb,
		"aliyunecs-slb-weight":   40,
		"aliyunecs-eip":          true,
		"aliyunecs-route-cidr":   "172.18.3.0/24",
		"aliyunecs-disk-size":    30,
		"aliyunecs-disk-fs":      "xfs",
		"aliyunecs-open-port":    []string{"80", "443"},
		"aliyunecs-userdata":     ud,
		"aliyunecs-ssh-password": password,
	})
	require.NoError(t, d.PreCreateCheck())
	require.NoError(t, d.Create())

	r := s.resources()
	require.Len(t, r.Instances, 1)
	inst := r.Instances[0]
	require.Len(t, r.EIPs, 1)
	assert.Equal(t, inst.ID, r.EIPs[0].InstanceID)
	assert.Equal(t, d.MachineID, tagsOf(r, r.EIPs[0].ID)[tagMachineID], "the EIP carries the machine tag")
	assert.Empty(t, inst.PublicIP, "with an EIP the instance has no own public IP")
	ip, err := d.GetIP()
	require.NoError(t, err)
	assert.Equal(t, r.EIPs[0].IP, ip)
	addrs, err := d.Addresses(context.Background())
	require.NoError(t, err)
	assert.Equal(t, capability.Addresses{Public: []string{r.EIPs[0].IP}, Private: []string{inst.PrivateIP}}, addrs)
	assert.Equal(t, []string{r.EIPs[0].IP, inst.PrivateIP}, addrs.All(), "public first, then private")

	var route *string
	for _, e := range r.RouteEntries {
		if e.Destination == "172.18.3.0/24" {
			route = &e.NextHopID
		}
	}
	require.NotNil(t, route, "route entry for the Docker bridge")
	assert.Equal(t, inst.ID, *route)
	require.Len(t, r.BackendServers, 1)
	assert.Equal(t, 40, r.BackendServers[0].Weight)
	var rules []string
	for _, rule := range r.SecurityGroups[0].Rules {
		rules = append(rules, rule.IpProtocol+" "+rule.PortRange+" "+rule.Source)
	}
	assert.Subset(t, rules, []string{"tcp 22/22 0.0.0.0/0", "tcp 2376/2376 0.0.0.0/0", "tcp 80/80 0.0.0.0/0", "tcp 443/443 0.0.0.0/0", "all -1/-1 172.18.3.0/24"})

	raw, err := json.Marshal(d)
	require.NoError(t, err)
	var stored map[string]any
	require.NoError(t, json.Unmarshal(raw, &stored))
	assert.Equal(t, map[string]any{"Device": "/dev/vdb", "FS": "xfs"}, stored["DataDisk"])
	assert.NotContains(t, string(raw), password)
	assert.NotContains(t, logs.String(), password)
	_, secret := s.Credentials()
	assert.NotContains(t, logs.String(), secret)

	require.NoError(t, d.Remove())
	s.requireSameAs(before, "after rm")
}

// The stored address answers GetIP and GetURL; no API call per use.
func TestGetIPUsesStoredAddress(t *testing.T) {
	s := startSim(t, fastFaults())
	d := newDriver(t, s, "ipcache", nil)
	require.NoError(t, d.PreCreateCheck())
	require.NoError(t, d.Create())
	t.Cleanup(func() { _ = d.Remove() })

	seq := s.lastSeq()
	for range 5 {
		_, err := d.GetIP()
		require.NoError(t, err)
		_, err = d.GetURL()
		require.NoError(t, err)
	}
	assert.Empty(t, s.callsSince(seq), "GetIP and GetURL made API calls")

	// A machine loaded without an address looks it up once.
	raw, err := json.Marshal(d)
	require.NoError(t, err)
	loaded := NewDriver("", "")
	require.NoError(t, json.Unmarshal(raw, loaded))
	want := loaded.PublicIPAddress
	loaded.PublicIPAddress, loaded.IPAddress = "", ""
	seq = s.lastSeq()
	ip, err := loaded.GetIP()
	require.NoError(t, err)
	assert.Equal(t, want, ip)
	_, err = loaded.GetIP()
	require.NoError(t, err)
	assert.Len(t, s.callsSince(seq), 1)
}

func TestPrivateAddressOnly(t *testing.T) {
	s := startSim(t, fastFaults())
	d := newDriver(t, s, "private", map[string]any{"aliyunecs-private-address-only": true})
	require.NoError(t, d.PreCreateCheck())
	require.NoError(t, d.Create())
	t.Cleanup(func() { _ = d.Remove() })
	r := s.resources()
	require.Len(t, r.Instances, 1)
	assert.Empty(t, r.Instances[0].PublicIP)
	assert.Empty(t, r.EIPs)
	ip, err := d.GetIP()
	require.NoError(t, err)
	assert.Equal(t, r.Instances[0].PrivateIP, ip)
}

func TestExistingKeyPairIsUsedAndKept(t *testing.T) {
	s := startSim(t, fastFaults())
	priv, pub, err := generateKey()
	require.NoError(t, err)
	dir := t.TempDir()
	key := filepath.Join(dir, "mykey")
	require.NoError(t, sshkey.WriteFiles(key, priv, pub))

	// Import it as a user would have done once.
	maker := newDriver(t, s, "keymaker", nil)
	a, err := maker.api()
	require.NoError(t, err)
	req := ecs.CreateImportKeyPairRequest()
	req.KeyPairName = "shared-key"
	req.PublicKeyBody = string(pub)
	require.NoError(t, a.call(t.Context(), &a.ecs.Client, req, ecs.CreateImportKeyPairResponse()))
	before := s.snapshot()

	d := newDriver(t, s, "withkey", map[string]any{"aliyunecs-ssh-keypair": "shared-key", "aliyunecs-ssh-keypath": key})
	require.NoError(t, d.PreCreateCheck())
	require.NoError(t, d.Create())
	assert.Equal(t, "shared-key", s.resources().Instances[0].KeyPairName)
	copied, err := os.ReadFile(d.GetSSHKeyPath())
	require.NoError(t, err)
	assert.Equal(t, priv, copied, "the key is copied into the machine directory")
	require.NoError(t, d.Remove())
	s.requireSameAs(before, "the user's key pair stays")
}

// A key pair already named after the machine is refused before anything is
// made, instead of being overwritten or deleted later.
func TestKeyPairNameClash(t *testing.T) {
	s := startSim(t, fastFaults())
	d1 := newDriver(t, s, "clash", nil)
	require.NoError(t, d1.PreCreateCheck())
	require.NoError(t, d1.Create())
	t.Cleanup(func() { _ = d1.Remove() })

	d2 := newDriver(t, s, "clash", nil)
	err := d2.PreCreateCheck()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `a key pair named "clash" already exists`)
}

// Machines share the security group by name; the last one removed takes
// it along, and a group made by hand is never deleted.
func TestSharedSecurityGroup(t *testing.T) {
	s := startSim(t, fastFaults())
	before := s.snapshot()
	d1 := newDriver(t, s, "share-1", nil)
	d2 := newDriver(t, s, "share-2", nil)
	for _, d := range []*Driver{d1, d2} {
		require.NoError(t, d.PreCreateCheck())
		require.NoError(t, d.Create())
	}
	assert.Equal(t, d1.SecurityGroupId, d2.SecurityGroupId)
	assert.True(t, d1.SecurityGroupCreated)
	assert.False(t, d2.SecurityGroupCreated)

	require.NoError(t, d1.Remove())
	assert.Len(t, s.resources().SecurityGroups, 1, "still used by share-2")
	require.NoError(t, d2.Remove())
	s.requireSameAs(before, "the last machine out removes the group docker-machine made")

	// A group made by hand.
	maker := newDriver(t, s, "sgmaker", nil)
	require.NoError(t, maker.PreCreateCheck())
	a, err := maker.api()
	require.NoError(t, err)
	req := ecs.CreateCreateSecurityGroupRequest()
	req.VpcId = maker.VpcId
	req.SecurityGroupName = "docker-machine"
	require.NoError(t, a.call(t.Context(), &a.ecs.Client, req, ecs.CreateCreateSecurityGroupResponse()))
	before = s.snapshot()
	d3 := newDriver(t, s, "share-3", nil)
	require.NoError(t, d3.PreCreateCheck())
	require.NoError(t, d3.Create())
	require.NoError(t, d3.Remove())
	after := s.snapshot()
	require.Len(t, after.SecurityGroups, 1, "the hand-made group stays")
	assert.Len(t, after.SecurityGroups[0].Rules, 2, "with the SSH and Docker rules the machine needed")
}

// An instance deleted behind docker-machine's back: status says so and
// tells what to do; rm still succeeds and cleans up the rest.
func TestInstanceDeletedOutOfBand(t *testing.T) {
	s := startSim(t, fastFaults())
	before := s.snapshot()
	d := newDriver(t, s, "gone", nil)
	require.NoError(t, d.PreCreateCheck())
	require.NoError(t, d.Create())
	a, err := d.api()
	require.NoError(t, err)
	require.NoError(t, a.deleteInstance(t.Context(), d.InstanceId))

	st, err := d.GetState()
	require.Error(t, err)
	assert.Equal(t, state.Error, st)
	assert.Contains(t, err.Error(), "docker-machine rm gone")
	err = d.Start()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the instance is gone")

	require.NoError(t, d.Remove())
	s.requireSameAs(before, "after rm")
}
