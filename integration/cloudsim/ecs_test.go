package cloudsim_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/fleetdock/machine/integration/cloudsim"
)

const ubuntu = "ubuntu_22_04_x64_20G_alibase_20240130.vhd"

func TestRegionsZonesImagesTypes(t *testing.T) {
	sim := newSim(t)

	regions, err := sim.ECS.DescribeRegions(ecs.CreateDescribeRegionsRequest())
	ok(t, regions, err)
	var ids []string
	for _, r := range regions.Regions.Region {
		ids = append(ids, r.RegionId)
		assert.Equal(t, sim.Domain(), r.RegionEndpoint, "a client following RegionEndpoint must stay on the simulator")
	}
	assert.Subset(t, ids, []string{"cn-hangzhou", "cn-beijing", "cn-shanghai"})

	zreq := ecs.CreateDescribeZonesRequest()
	zreq.RegionId = "cn-beijing"
	zones, err := sim.ECS.DescribeZones(zreq)
	ok(t, zones, err)
	var zoneIDs []string
	for _, z := range zones.Zones.Zone {
		zoneIDs = append(zoneIDs, z.ZoneId)
		assert.Contains(t, z.AvailableInstanceTypes.InstanceTypes, "ecs.n4.small")
	}
	assert.Equal(t, []string{"cn-beijing-a", "cn-beijing-b"}, zoneIDs)

	// A fresh request each time: the SDK keeps a request's first RegionId.
	zreq = ecs.CreateDescribeZonesRequest()
	zreq.RegionId = "xx-nowhere-1"
	_, err = sim.ECS.DescribeZones(zreq)
	requireAPIError(t, err, "InvalidRegionId.NotFound", 404)

	ireq := ecs.CreateDescribeImagesRequest()
	ireq.RegionId = region
	ireq.ImageOwnerAlias = "system"
	ireq.ImageName = "ubuntu_22_04_x64*"
	imgs, err := sim.ECS.DescribeImages(ireq)
	ok(t, imgs, err)
	require.Equal(t, 1, imgs.TotalCount)
	assert.Equal(t, ubuntu, imgs.Images.Image[0].ImageId)
	assert.Equal(t, "system", imgs.Images.Image[0].ImageOwnerAlias)

	ireq = ecs.CreateDescribeImagesRequest()
	ireq.RegionId = region
	ireq.ImageName = "debian_12"
	imgs, err = sim.ECS.DescribeImages(ireq)
	ok(t, imgs, err)
	require.Equal(t, 1, imgs.TotalCount, "a name without '*' is a fuzzy match")
	assert.True(t, strings.HasPrefix(imgs.Images.Image[0].ImageId, "debian_12"))

	ireq = ecs.CreateDescribeImagesRequest()
	ireq.RegionId = region
	ireq.ImageOwnerAlias = "self"
	imgs, err = sim.ECS.DescribeImages(ireq)
	ok(t, imgs, err)
	assert.Zero(t, imgs.TotalCount, "the account owns no images")

	treq := ecs.CreateDescribeInstanceTypesRequest()
	treq.InstanceTypes = &[]string{"ecs.n4.small", "ecs.g6.large"}
	types, err := sim.ECS.DescribeInstanceTypes(treq)
	ok(t, types, err)
	require.Len(t, types.InstanceTypes.InstanceType, 2)
	assert.Equal(t, 8.0, types.InstanceTypes.InstanceType[1].MemorySize)
}

func TestKeyPairs(t *testing.T) {
	sim := newSim(t)

	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	sshPub, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	imp := ecs.CreateImportKeyPairRequest()
	imp.RegionId = region
	imp.KeyPairName = "imported"
	imp.PublicKeyBody = string(ssh.MarshalAuthorizedKey(sshPub))
	impResp, err := sim.ECS.ImportKeyPair(imp)
	ok(t, impResp, err)
	assert.Equal(t, "imported", impResp.KeyPairName)
	assert.Regexp(t, `^([0-9a-f]{2}:){15}[0-9a-f]{2}$`, impResp.KeyPairFingerPrint)

	_, err = sim.ECS.ImportKeyPair(imp)
	requireAPIError(t, err, "KeyPair.AlreadyExist", 400)

	imp = ecs.CreateImportKeyPairRequest()
	imp.RegionId = region
	imp.KeyPairName = "bad-body"
	imp.PublicKeyBody = "not a key"
	_, err = sim.ECS.ImportKeyPair(imp)
	requireAPIError(t, err, "InvalidPublicKeyBody.Malformed", 400)

	create := ecs.CreateCreateKeyPairRequest()
	create.RegionId = region
	create.KeyPairName = "created"
	create.Tag = &[]ecs.CreateKeyPairTag{{Key: "team", Value: "infra"}}
	created, err := sim.ECS.CreateKeyPair(create)
	ok(t, created, err)
	signer, err := ssh.ParsePrivateKey([]byte(created.PrivateKeyBody))
	require.NoError(t, err, "CreateKeyPair must return a usable private key")
	assert.True(t, strings.HasPrefix(created.PrivateKeyBody, "-----BEGIN RSA PRIVATE KEY-----"))

	desc := ecs.CreateDescribeKeyPairsRequest()
	desc.RegionId = region
	desc.KeyPairName = "created"
	desc.IncludePublicKey = "true"
	list, err := sim.ECS.DescribeKeyPairs(desc)
	ok(t, list, err)
	require.Equal(t, 1, list.TotalCount)
	kp := list.KeyPairs.KeyPair[0]
	assert.Equal(t, created.KeyPairFingerPrint, kp.KeyPairFingerPrint)
	listed, _, _, _, err := ssh.ParseAuthorizedKey([]byte(kp.PublicKey))
	require.NoError(t, err)
	assert.Equal(t, signer.PublicKey().Marshal(), listed.Marshal(), "the listed public key belongs to the returned private key")
	require.Len(t, kp.Tags.Tag, 1)
	assert.Equal(t, "team", kp.Tags.Tag[0].TagKey)

	desc = ecs.CreateDescribeKeyPairsRequest()
	desc.RegionId = region
	desc.PageSize = "1"
	list, err = sim.ECS.DescribeKeyPairs(desc)
	ok(t, list, err)
	assert.Equal(t, 2, list.TotalCount)
	assert.Len(t, list.KeyPairs.KeyPair, 1)

	del := ecs.CreateDeleteKeyPairsRequest()
	del.RegionId = region
	del.KeyPairNames = `["created","imported"]`
	delResp, err := sim.ECS.DeleteKeyPairs(del)
	ok(t, delResp, err)
	list, err = sim.ECS.DescribeKeyPairs(desc)
	ok(t, list, err)
	assert.Zero(t, list.TotalCount)
	assert.Empty(t, sim.Resources().KeyPairs)
	assert.Empty(t, sim.Resources().Tags, "a deleted key pair's tags go with it")
}

func TestSecurityGroups(t *testing.T) {
	sim := newSim(t)
	group := createGroup(t, sim)

	for _, p := range []struct{ proto, ports string }{{"tcp", "22/22"}, {"tcp", "2376/2376"}, {"icmp", "-1/-1"}} {
		req := ecs.CreateAuthorizeSecurityGroupRequest()
		req.RegionId = region
		req.SecurityGroupId = group
		req.IpProtocol = p.proto
		req.PortRange = p.ports
		req.SourceCidrIp = "0.0.0.0/0"
		resp, err := sim.ECS.AuthorizeSecurityGroup(req)
		ok(t, resp, err)
		// Authorizing the same rule again changes nothing, like the service.
		resp, err = sim.ECS.AuthorizeSecurityGroup(req)
		ok(t, resp, err)
	}
	authorize := func(groupID, ports string) error {
		req := ecs.CreateAuthorizeSecurityGroupRequest()
		req.RegionId = region
		req.SecurityGroupId = groupID
		req.IpProtocol = "tcp"
		req.PortRange = ports
		req.SourceCidrIp = "0.0.0.0/0"
		_, err := sim.ECS.AuthorizeSecurityGroup(req)
		return err
	}
	requireAPIError(t, authorize(group, "70000/70001"), "InvalidPortRange.Malformed", 400)
	requireAPIError(t, authorize(group, ""), "MissingParameter", 400)
	requireAPIError(t, authorize("sg-doesnotexist", "80/80"), "InvalidSecurityGroupId.NotFound", 404)

	egress := ecs.CreateAuthorizeSecurityGroupEgressRequest()
	egress.RegionId = region
	egress.SecurityGroupId = group
	egress.IpProtocol = "all"
	egress.PortRange = "-1/-1"
	egress.DestCidrIp = "0.0.0.0/0"
	eresp, err := sim.ECS.AuthorizeSecurityGroupEgress(egress)
	ok(t, eresp, err)

	attr := ecs.CreateDescribeSecurityGroupAttributeRequest()
	attr.RegionId = region
	attr.SecurityGroupId = group
	attr.Direction = "ingress"
	a, err := sim.ECS.DescribeSecurityGroupAttribute(attr)
	ok(t, a, err)
	require.Len(t, a.Permissions.Permission, 3)
	assert.Equal(t, "TCP", a.Permissions.Permission[0].IpProtocol)
	assert.Equal(t, "22/22", a.Permissions.Permission[0].PortRange)
	assert.Equal(t, "Accept", a.Permissions.Permission[0].Policy)

	revoke := ecs.CreateRevokeSecurityGroupRequest()
	revoke.RegionId = region
	revoke.SecurityGroupId = group
	revoke.IpProtocol = "tcp"
	revoke.PortRange = "2376/2376"
	revoke.SourceCidrIp = "0.0.0.0/0"
	rresp, err := sim.ECS.RevokeSecurityGroup(revoke)
	ok(t, rresp, err)
	attr = ecs.CreateDescribeSecurityGroupAttributeRequest()
	attr.RegionId = region
	attr.SecurityGroupId = group
	a, err = sim.ECS.DescribeSecurityGroupAttribute(attr)
	ok(t, a, err)
	assert.Len(t, a.Permissions.Permission, 3, "22, icmp and the egress rule remain")

	list := ecs.CreateDescribeSecurityGroupsRequest()
	list.RegionId = region
	list.SecurityGroupName = "test-group"
	list.VpcId = defaultVpc(t, sim)
	groups, err := sim.ECS.DescribeSecurityGroups(list)
	ok(t, groups, err)
	require.Equal(t, 1, groups.TotalCount)
	assert.Equal(t, group, groups.SecurityGroups.SecurityGroup[0].SecurityGroupId)

	inst := runInstance(t, sim, group, nil)
	groups, err = sim.ECS.DescribeSecurityGroups(list)
	ok(t, groups, err)
	assert.Equal(t, 1, groups.SecurityGroups.SecurityGroup[0].EcsCount)

	del := ecs.CreateDeleteSecurityGroupRequest()
	del.RegionId = region
	del.SecurityGroupId = group
	_, err = sim.ECS.DeleteSecurityGroup(del)
	requireAPIError(t, err, "DependencyViolation", 403)

	dreq := ecs.CreateDeleteInstanceRequest()
	dreq.InstanceId = inst
	dreq.Force = "true"
	dresp, err := sim.ECS.DeleteInstance(dreq)
	ok(t, dresp, err)
	delResp, err := sim.ECS.DeleteSecurityGroup(del)
	ok(t, delResp, err)
	_, err = sim.ECS.DeleteSecurityGroup(del)
	requireAPIError(t, err, "InvalidSecurityGroup.NotFound", 404)
}

func TestRunInstancesLifecycle(t *testing.T) {
	sim := newSim(t)
	group := createGroup(t, sim)

	run := ecs.CreateRunInstancesRequest()
	run.RegionId = region
	run.ImageId = ubuntu
	run.InstanceType = "ecs.n4.small"
	run.SecurityGroupId = group
	run.InstanceName = "node"
	run.UniqueSuffix = "true"
	run.Amount = "2"
	run.InternetMaxBandwidthOut = "5"
	run.SystemDiskCategory = "cloud_essd"
	run.SystemDiskSize = "40"
	run.DataDisk = &[]ecs.RunInstancesDataDisk{{Size: "100", Category: "cloud_efficiency"}}
	run.Password = "Sim-Passw0rd"
	run.UserData = base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\necho hi\n"))
	run.Tag = &[]ecs.RunInstancesTag{{Key: "role", Value: "worker"}}
	run.ClientToken = "token-1"
	first, err := sim.ECS.RunInstances(run)
	ok(t, first, err)
	ids := first.InstanceIdSets.InstanceIdSet
	require.Len(t, ids, 2)
	assert.Regexp(t, `^i-bp[a-z0-9]{18}$`, ids[0], "IDs look like cn-hangzhou's")

	// Same ClientToken, same parameters: the same instances, nothing new.
	again, err := sim.ECS.RunInstances(run)
	ok(t, again, err)
	assert.Equal(t, ids, again.InstanceIdSets.InstanceIdSet)
	assert.NotEqual(t, first.RequestId, again.RequestId)
	assert.Len(t, sim.Resources().Instances, 2)
	// Same token, other parameters: refused.
	run.Description = "other"
	_, err = sim.ECS.RunInstances(run)
	requireAPIError(t, err, "IdempotentParameterMismatch", 400)

	for _, id := range ids {
		waitStatus(t, sim, id, "Running")
	}

	desc := ecs.CreateDescribeInstancesRequest()
	desc.RegionId = region
	desc.InstanceIds = `["` + ids[0] + `","` + ids[1] + `"]`
	desc.Tag = &[]ecs.DescribeInstancesTag{{Key: "role", Value: "worker"}}
	desc.VpcId = defaultVpc(t, sim)
	desc.Status = "Running"
	desc.PageSize = "1"
	list, err := sim.ECS.DescribeInstances(desc)
	ok(t, list, err)
	assert.Equal(t, 2, list.TotalCount)
	require.Len(t, list.Instances.Instance, 1)
	inst := list.Instances.Instance[0]
	assert.Contains(t, []string{"node001", "node002"}, inst.InstanceName)
	assert.Equal(t, inst.InstanceName, inst.HostName, "a valid InstanceName is the hostname")
	require.Len(t, inst.VpcAttributes.PrivateIpAddress.IpAddress, 1)
	assert.True(t, strings.HasPrefix(inst.VpcAttributes.PrivateIpAddress.IpAddress[0], "172.16."))
	require.Len(t, inst.PublicIpAddress.IpAddress, 1, "InternetMaxBandwidthOut > 0 gives a public IP")
	assert.True(t, strings.HasPrefix(inst.PublicIpAddress.IpAddress[0], "127.100."))
	assert.Equal(t, []string{group}, inst.SecurityGroupIds.SecurityGroupId)
	assert.Equal(t, 1, inst.Cpu)
	assert.Equal(t, 2048, inst.Memory)
	desc.PageNumber = "2" // a parameter set for the first time reaches the request
	list, err = sim.ECS.DescribeInstances(desc)
	ok(t, list, err)
	require.Len(t, list.Instances.Instance, 1)
	assert.NotEqual(t, inst.InstanceId, list.Instances.Instance[0].InstanceId)

	byName := ecs.CreateDescribeInstancesRequest()
	byName.RegionId = region
	byName.InstanceName = "node00*"
	list, err = sim.ECS.DescribeInstances(byName)
	ok(t, list, err)
	assert.Equal(t, 2, list.TotalCount)
	byName = ecs.CreateDescribeInstancesRequest()
	byName.RegionId = region
	byName.InstanceName = "other"
	list, err = sim.ECS.DescribeInstances(byName)
	ok(t, list, err)
	assert.Zero(t, list.TotalCount)

	attr := ecs.CreateDescribeInstanceAttributeRequest()
	attr.InstanceId = ids[0]
	a, err := sim.ECS.DescribeInstanceAttribute(attr)
	ok(t, a, err)
	assert.Equal(t, "Running", a.Status)
	assert.Equal(t, "ecs.n4.small", a.InstanceType)

	ud := ecs.CreateDescribeUserDataRequest()
	ud.RegionId = region
	ud.InstanceId = ids[0]
	udResp, err := sim.ECS.DescribeUserData(ud)
	ok(t, udResp, err)
	assert.Equal(t, run.UserData, udResp.UserData)

	st := ecs.CreateDescribeInstanceStatusRequest()
	st.RegionId = region
	st.InstanceId = &[]string{ids[1]}
	sresp, err := sim.ECS.DescribeInstanceStatus(st)
	ok(t, sresp, err)
	require.Len(t, sresp.InstanceStatuses.InstanceStatus, 1)
	assert.Equal(t, "Running", sresp.InstanceStatuses.InstanceStatus[0].Status)

	del := ecs.CreateDeleteInstanceRequest()
	del.InstanceId = ids[0]
	_, err = sim.ECS.DeleteInstance(del)
	requireAPIError(t, err, "IncorrectInstanceStatus", 403)

	stop := ecs.CreateStopInstanceRequest()
	stop.InstanceId = ids[0]
	stopResp, err := sim.ECS.StopInstance(stop)
	ok(t, stopResp, err)
	waitStatus(t, sim, ids[0], "Stopped")
	delResp, err := sim.ECS.DeleteInstance(del)
	ok(t, delResp, err)

	del = ecs.CreateDeleteInstanceRequest()
	del.InstanceId = ids[1]
	del.Force = "true"
	delResp, err = sim.ECS.DeleteInstance(del)
	ok(t, delResp, err)
	_, err = sim.ECS.DeleteInstance(del)
	requireAPIError(t, err, "InvalidInstanceId.NotFound", 404)

	res := sim.Resources()
	assert.Empty(t, res.Instances)
	assert.Empty(t, res.PublicIPs, "public IPs go with their instances")
	assert.Empty(t, res.Tags)
}

func TestRunInstancesValidation(t *testing.T) {
	sim := newSim(t)
	group := createGroup(t, sim)
	base := func() *ecs.RunInstancesRequest {
		r := ecs.CreateRunInstancesRequest()
		r.RegionId = region
		r.ImageId = ubuntu
		r.InstanceType = "ecs.n4.small"
		r.SecurityGroupId = group
		return r
	}
	cases := []struct {
		name   string
		mutate func(*ecs.RunInstancesRequest)
		code   string
		status int
	}{
		{"no image", func(r *ecs.RunInstancesRequest) { r.ImageId = "" }, "MissingParameter", 400},
		{"unknown image", func(r *ecs.RunInstancesRequest) { r.ImageId = "centos_6" }, "InvalidImageId.NotFound", 404},
		{"unknown type", func(r *ecs.RunInstancesRequest) { r.InstanceType = "ecs.x99.huge" }, "InvalidInstanceType.ValueNotSupported", 400},
		{"no group", func(r *ecs.RunInstancesRequest) { r.SecurityGroupId = "" }, "MissingParameter", 400},
		{"unknown group", func(r *ecs.RunInstancesRequest) { r.SecurityGroupId = "sg-bpnothere" }, "InvalidSecurityGroupId.NotFound", 404},
		{"unknown vswitch", func(r *ecs.RunInstancesRequest) { r.VSwitchId = "vsw-bpnothere" }, "InvalidVSwitchId.NotFound", 403},
		{"unknown key pair", func(r *ecs.RunInstancesRequest) { r.KeyPairName = "nope" }, "InvalidKeyPairName.NotFound", 404},
		{"weak password", func(r *ecs.RunInstancesRequest) { r.Password = "password" }, "InvalidPassword.Malformed", 400},
		{"bad user data", func(r *ecs.RunInstancesRequest) { r.UserData = "%%%" }, "InvalidUserData.Base64FormatInvalid", 403},
		{"small disk", func(r *ecs.RunInstancesRequest) { r.SystemDiskSize = "10" }, "InvalidSystemDiskSize.LessThanImageSize", 404},
		{"bad disk category", func(r *ecs.RunInstancesRequest) { r.SystemDiskCategory = "floppy" }, "InvalidSystemDiskCategory.ValueNotSupported", 400},
		{"bad data disk", func(r *ecs.RunInstancesRequest) {
			r.DataDisk = &[]ecs.RunInstancesDataDisk{{Size: "5"}}
		}, "InvalidDataDiskSize.ValueNotSupported", 400},
		{"too many", func(r *ecs.RunInstancesRequest) { r.Amount = "101" }, "InvalidParameter", 400},
		{"bad hostname", func(r *ecs.RunInstancesRequest) { r.HostName = "-bad-" }, "InvalidHostName.Malformed", 400},
		{"zone mismatch", func(r *ecs.RunInstancesRequest) {
			r.VSwitchId = defaultVSwitch(t, sim, "cn-hangzhou-h")
			r.ZoneId = "cn-hangzhou-i"
		}, "InvalidParameter.Mismatch", 400},
		{"dry run", func(r *ecs.RunInstancesRequest) { r.DryRun = "true" }, "DryRunOperation", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := base()
			tc.mutate(req)
			_, err := sim.ECS.RunInstances(req)
			requireAPIError(t, err, tc.code, tc.status)
		})
	}
	assert.Empty(t, sim.Resources().Instances, "no failed call leaves an instance")
}

func defaultVSwitch(t *testing.T, sim interface {
	Resources() cloudsim.Resources
}, zone string) string {
	t.Helper()
	for _, sw := range sim.Resources().VSwitches {
		if sw.ZoneID == zone && sw.IsDefault {
			return sw.ID
		}
	}
	t.Fatalf("no default VSwitch in %s", zone)
	return ""
}

func TestTransitionalStates(t *testing.T) {
	t.Run("Pending", func(t *testing.T) {
		sim := newSimWith(t, cloudsim.Faults{CreateTime: cloudsim.Duration(time.Hour)})
		group := createGroup(t, sim)
		req := ecs.CreateRunInstancesRequest()
		req.RegionId = region
		req.ImageId = ubuntu
		req.InstanceType = "ecs.n4.small"
		req.SecurityGroupId = group
		resp, err := sim.ECS.RunInstances(req)
		ok(t, resp, err)
		id := resp.InstanceIdSets.InstanceIdSet[0]
		assert.Equal(t, "Pending", instanceStatus(t, sim, id))
		del := ecs.CreateDeleteInstanceRequest()
		del.InstanceId = id
		del.Force = "true"
		_, err = sim.ECS.DeleteInstance(del)
		requireAPIError(t, err, "IncorrectInstanceStatus.Initializing", 403)
	})
	t.Run("Starting", func(t *testing.T) {
		sim := newSimWith(t, cloudsim.Faults{BootTime: cloudsim.Duration(time.Hour)})
		group := createGroup(t, sim)
		req := ecs.CreateRunInstancesRequest()
		req.RegionId = region
		req.ImageId = ubuntu
		req.InstanceType = "ecs.n4.small"
		req.SecurityGroupId = group
		resp, err := sim.ECS.RunInstances(req)
		ok(t, resp, err)
		id := resp.InstanceIdSets.InstanceIdSet[0]
		waitStatus(t, sim, id, "Starting")
		stop := ecs.CreateStopInstanceRequest()
		stop.InstanceId = id
		_, err = sim.ECS.StopInstance(stop)
		requireAPIError(t, err, "IncorrectInstanceStatus", 403)
	})
	t.Run("Stopping", func(t *testing.T) {
		sim := newSimWith(t, cloudsim.Faults{StopTime: cloudsim.Duration(time.Hour)})
		group := createGroup(t, sim)
		id := runInstance(t, sim, group, nil)
		stop := ecs.CreateStopInstanceRequest()
		stop.InstanceId = id
		resp, err := sim.ECS.StopInstance(stop)
		ok(t, resp, err)
		assert.Equal(t, "Stopping", instanceStatus(t, sim, id))
		_, err = sim.ECS.StopInstance(stop)
		requireAPIError(t, err, "IncorrectInstanceStatus", 403)
		start := ecs.CreateStartInstanceRequest()
		start.InstanceId = id
		_, err = sim.ECS.StartInstance(start)
		requireAPIError(t, err, "IncorrectInstanceStatus", 403)
		del := ecs.CreateDeleteInstanceRequest()
		del.InstanceId = id
		del.Force = "true"
		_, err = sim.ECS.DeleteInstance(del)
		requireAPIError(t, err, "IncorrectInstanceStatus", 403)
	})
}

func TestCreateInstanceStopsAndPublicIP(t *testing.T) {
	sim := newSim(t)
	group := createGroup(t, sim)
	req := ecs.CreateCreateInstanceRequest()
	req.RegionId = region
	req.ImageId = ubuntu
	req.InstanceType = "ecs.n4.small"
	req.SecurityGroupId = group
	req.InternetMaxBandwidthOut = "1"
	req.SystemDiskSize = requests.NewInteger(40)
	resp, err := sim.ECS.CreateInstance(req)
	ok(t, resp, err)
	id := resp.InstanceId
	waitStatus(t, sim, id, "Stopped")
	assert.Equal(t, "Stopped", instanceStatus(t, sim, id), "the legacy CreateInstance leaves the instance stopped")

	alloc := ecs.CreateAllocatePublicIpAddressRequest()
	alloc.InstanceId = id
	aresp, err := sim.ECS.AllocatePublicIpAddress(alloc)
	ok(t, aresp, err)
	assert.True(t, strings.HasPrefix(aresp.IpAddress, "127.100."))
	_, err = sim.ECS.AllocatePublicIpAddress(alloc)
	requireAPIError(t, err, "AllocatedAlready", 403)

	start := ecs.CreateStartInstanceRequest()
	start.InstanceId = id
	sresp, err := sim.ECS.StartInstance(start)
	ok(t, sresp, err)
	waitStatus(t, sim, id, "Running")
	reboot := ecs.CreateRebootInstanceRequest()
	reboot.InstanceId = id
	rresp, err := sim.ECS.RebootInstance(reboot)
	ok(t, rresp, err)
	waitStatus(t, sim, id, "Running")

	attr := ecs.CreateDescribeInstanceAttributeRequest()
	attr.InstanceId = id
	a, err := sim.ECS.DescribeInstanceAttribute(attr)
	ok(t, a, err)
	assert.Equal(t, []string{aresp.IpAddress}, a.PublicIpAddress.IpAddress)

	mod := ecs.CreateModifyInstanceAttributeRequest()
	mod.InstanceId = id
	mod.InstanceName = "renamed"
	mod.DeletionProtection = "true"
	mresp, err := sim.ECS.ModifyInstanceAttribute(mod)
	ok(t, mresp, err)
	del := ecs.CreateDeleteInstanceRequest()
	del.InstanceId = id
	del.Force = "true"
	_, err = sim.ECS.DeleteInstance(del)
	requireAPIError(t, err, "InvalidOperation.DeletionProtection", 403)
}
