package cloudsim_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/slb"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/cloudsim"
	"github.com/fleetdock/machine/integration/cloudsim/cloudsimtest"
)

func TestVPCsAndVSwitches(t *testing.T) {
	sim := newSim(t)

	// The defaults: one VPC per region, one VSwitch per zone.
	dv := vpc.CreateDescribeVpcsRequest()
	dv.RegionId = "cn-beijing"
	vpcs, err := sim.VPC.DescribeVpcs(dv)
	ok(t, vpcs, err)
	require.Equal(t, 1, vpcs.TotalCount)
	assert.True(t, vpcs.Vpcs.Vpc[0].IsDefault)
	assert.Len(t, vpcs.Vpcs.Vpc[0].VSwitchIds.VSwitchId, 2)

	cv := vpc.CreateCreateVpcRequest()
	cv.RegionId = region
	cv.CidrBlock = "192.168.0.0/16"
	cv.VpcName = "lab"
	cv.Tag = &[]vpc.CreateVpcTag{{Key: "env", Value: "test"}}
	created, err := sim.VPC.CreateVpc(cv)
	ok(t, created, err)
	assert.True(t, strings.HasPrefix(created.VpcId, "vpc-"))
	assert.True(t, strings.HasPrefix(created.RouteTableId, "vtb-"))

	bad := vpc.CreateCreateVpcRequest()
	bad.RegionId = region
	bad.CidrBlock = "8.8.0.0/16"
	_, err = sim.VPC.CreateVpc(bad)
	requireAPIError(t, err, "InvalidCidrBlock.Malformed", 400)

	sw := func(cidr string) (*vpc.CreateVSwitchResponse, error) {
		req := vpc.CreateCreateVSwitchRequest()
		req.RegionId = region
		req.VpcId = created.VpcId
		req.ZoneId = "cn-hangzhou-i"
		req.CidrBlock = cidr
		req.VSwitchName = "lab-i"
		return sim.VPC.CreateVSwitch(req)
	}
	vsw, err := sw("192.168.1.0/24")
	ok(t, vsw, err)
	_, err = sw("192.168.1.128/25")
	requireAPIError(t, err, "InvalidCidrBlock.Overlapped", 400)
	_, err = sw("10.0.0.0/24")
	requireAPIError(t, err, "InvalidCidrBlock.Malformed", 400)

	ds := vpc.CreateDescribeVSwitchesRequest()
	ds.RegionId = region
	ds.VpcId = created.VpcId
	list, err := sim.VPC.DescribeVSwitches(ds)
	ok(t, list, err)
	require.Equal(t, 1, list.TotalCount)
	got := list.VSwitches.VSwitch[0]
	assert.Equal(t, vsw.VSwitchId, got.VSwitchId)
	assert.Equal(t, "192.168.1.0/24", got.CidrBlock)
	assert.EqualValues(t, 251, got.AvailableIpAddressCount, "a /24 keeps 5 addresses")
	assert.Equal(t, created.RouteTableId, got.RouteTable.RouteTableId)

	attr := vpc.CreateDescribeVSwitchAttributesRequest()
	attr.RegionId = region
	attr.VSwitchId = vsw.VSwitchId
	a, err := sim.VPC.DescribeVSwitchAttributes(attr)
	ok(t, a, err)
	assert.Equal(t, "cn-hangzhou-i", a.ZoneId)

	va := vpc.CreateDescribeVpcAttributeRequest()
	va.RegionId = region
	va.VpcId = created.VpcId
	vattr, err := sim.VPC.DescribeVpcAttribute(va)
	ok(t, vattr, err)
	assert.Equal(t, []string{vsw.VSwitchId}, vattr.VSwitchIds.VSwitchId)
	assert.Equal(t, "lab", vattr.VpcName)

	// The ECS API still answers for VPCs, in its own shapes.
	ev := ecs.CreateDescribeVpcsRequest()
	ev.RegionId = region
	ev.VpcId = created.VpcId
	evr, err := sim.ECS.DescribeVpcs(ev)
	ok(t, evr, err)
	require.Len(t, evr.Vpcs.Vpc, 1)
	es := ecs.CreateDescribeVSwitchesRequest()
	es.RegionId = region
	es.VpcId = created.VpcId
	esr, err := sim.ECS.DescribeVSwitches(es)
	ok(t, esr, err)
	require.Len(t, esr.VSwitches.VSwitch, 1)

	delVpc := vpc.CreateDeleteVpcRequest()
	delVpc.RegionId = region
	delVpc.VpcId = created.VpcId
	_, err = sim.VPC.DeleteVpc(delVpc)
	requireAPIError(t, err, "DependencyViolation.VSwitch", 400)

	delSw := vpc.CreateDeleteVSwitchRequest()
	delSw.RegionId = region
	delSw.VSwitchId = vsw.VSwitchId
	dsr, err := sim.VPC.DeleteVSwitch(delSw)
	ok(t, dsr, err)
	dvr, err := sim.VPC.DeleteVpc(delVpc)
	ok(t, dvr, err)
	_, err = sim.VPC.DeleteVpc(delVpc)
	requireAPIError(t, err, "InvalidVpcId.NotFound", 404)
	assert.Empty(t, sim.Resources().Tags)
}

func TestRouteEntries(t *testing.T) {
	sim := newSim(t)
	group := createGroup(t, sim)
	inst := runInstance(t, sim, group, nil)

	dt := vpc.CreateDescribeRouteTablesRequest()
	dt.RegionId = region
	vrouter, table := defaultRouter(t, sim)
	dt.VRouterId = vrouter
	tables, err := sim.VPC.DescribeRouteTables(dt)
	ok(t, tables, err)
	require.Len(t, tables.RouteTables.RouteTable, 1)
	rt := tables.RouteTables.RouteTable[0]
	assert.Equal(t, table, rt.RouteTableId)
	for _, e := range rt.RouteEntrys.RouteEntry {
		assert.Equal(t, "System", e.Type)
	}

	create := func(dest string) (*vpc.CreateRouteEntryResponse, error) {
		req := vpc.CreateCreateRouteEntryRequest()
		req.RegionId = region
		req.RouteTableId = rt.RouteTableId
		req.DestinationCidrBlock = dest
		req.NextHopType = "Instance"
		req.NextHopId = inst
		return sim.VPC.CreateRouteEntry(req)
	}
	entry, err := create("172.18.0.0/16")
	ok(t, entry, err)
	assert.True(t, strings.HasPrefix(entry.RouteEntryId, "rte-"))
	_, err = create("172.18.0.0/16")
	requireAPIError(t, err, "InvalidCIDRBlock.Duplicate", 400)

	list := vpc.CreateDescribeRouteEntryListRequest()
	list.RegionId = region
	list.RouteTableId = rt.RouteTableId
	list.RouteEntryType = "Custom"
	entries, err := sim.VPC.DescribeRouteEntryList(list)
	ok(t, entries, err)
	require.Len(t, entries.RouteEntrys.RouteEntry, 1)
	assert.Equal(t, inst, entries.RouteEntrys.RouteEntry[0].NextHops.NextHop[0].NextHopId)

	rtl := vpc.CreateDescribeRouteTableListRequest()
	rtl.RegionId = region
	rtl.RouteTableId = rt.RouteTableId
	rtlResp, err := sim.VPC.DescribeRouteTableList(rtl)
	ok(t, rtlResp, err)
	require.Len(t, rtlResp.RouterTableList.RouterTableListType, 1)

	ert := ecs.CreateDescribeRouteTablesRequest()
	ert.RegionId = region
	ert.RouteTableId = rt.RouteTableId
	ertResp, err := sim.ECS.DescribeRouteTables(ert)
	ok(t, ertResp, err)
	require.Len(t, ertResp.RouteTables.RouteTable, 1)

	// An instance that is a next hop cannot go.
	stop := ecs.CreateStopInstanceRequest()
	stop.InstanceId = inst
	sr, err := sim.ECS.StopInstance(stop)
	ok(t, sr, err)
	waitStatus(t, sim, inst, "Stopped")
	del := ecs.CreateDeleteInstanceRequest()
	del.InstanceId = inst
	_, err = sim.ECS.DeleteInstance(del)
	requireAPIError(t, err, "DependencyViolation.RouteEntry", 400)

	// The legacy ECS action deletes it by destination and next hop.
	edel := ecs.CreateDeleteRouteEntryRequest()
	edel.RegionId = region
	edel.RouteTableId = rt.RouteTableId
	edel.DestinationCidrBlock = "172.18.0.0/16"
	edel.NextHopId = inst
	edr, err := sim.ECS.DeleteRouteEntry(edel)
	ok(t, edr, err)
	_, err = sim.ECS.DeleteRouteEntry(edel)
	requireAPIError(t, err, "InvalidRouteEntry.NotFound", 404)
	dr, err := sim.ECS.DeleteInstance(del)
	ok(t, dr, err)
}

func TestRouteEntryPendingConflicts(t *testing.T) {
	sim := newSimWith(t, cloudsim.Faults{NetworkTime: cloudsim.Duration(time.Hour)})
	group := createGroup(t, sim)
	inst := runInstance(t, sim, group, nil)
	_, rtID := defaultRouter(t, sim)
	create := func(dest string) error {
		req := vpc.CreateCreateRouteEntryRequest()
		req.RegionId = region
		req.RouteTableId = rtID
		req.DestinationCidrBlock = dest
		req.NextHopId = inst
		resp, err := sim.VPC.CreateRouteEntry(req)
		if err == nil {
			ok(t, resp, err)
		}
		return err
	}
	require.NoError(t, create("10.10.0.0/16"))
	// While the first entry is Pending, the table takes no other change:
	// callers must retry, as on the real VPC.
	requireAPIError(t, create("10.11.0.0/16"), "IncorrectRouteEntryStatus", 400)
}

// defaultRouter returns the default VPC's VRouter and route table.
func defaultRouter(t *testing.T, sim *cloudsimtest.Sim) (vrouter, table string) {
	t.Helper()
	req := vpc.CreateDescribeVpcsRequest()
	req.RegionId = region
	req.IsDefault = "true"
	resp, err := sim.VPC.DescribeVpcs(req)
	ok(t, resp, err)
	require.Len(t, resp.Vpcs.Vpc, 1)
	v := resp.Vpcs.Vpc[0]
	require.Len(t, v.RouterTableIds.RouterTableIds, 1)
	return v.VRouterId, v.RouterTableIds.RouterTableIds[0]
}

func TestEIPsOnBothAPIs(t *testing.T) {
	sim := newSim(t)
	group := createGroup(t, sim)
	inst := runInstance(t, sim, group, nil)

	alloc := vpc.CreateAllocateEipAddressRequest()
	alloc.RegionId = region
	alloc.Bandwidth = "10"
	alloc.Name = "front"
	eip, err := sim.VPC.AllocateEipAddress(alloc)
	ok(t, eip, err)
	assert.True(t, strings.HasPrefix(eip.EipAddress, "127.100."))

	assoc := vpc.CreateAssociateEipAddressRequest()
	assoc.RegionId = region
	assoc.AllocationId = eip.AllocationId
	assoc.InstanceId = inst
	ar, err := sim.VPC.AssociateEipAddress(assoc)
	ok(t, ar, err)
	_, err = sim.VPC.AssociateEipAddress(assoc)
	requireAPIError(t, err, "IncorrectEipStatus", 400)

	desc := vpc.CreateDescribeEipAddressesRequest()
	desc.RegionId = region
	desc.AllocationId = eip.AllocationId
	d, err := sim.VPC.DescribeEipAddresses(desc)
	ok(t, d, err)
	require.Len(t, d.EipAddresses.EipAddress, 1)
	assert.Equal(t, "InUse", d.EipAddresses.EipAddress[0].Status)
	assert.Equal(t, inst, d.EipAddresses.EipAddress[0].InstanceId)
	assert.Equal(t, "10", d.EipAddresses.EipAddress[0].Bandwidth)

	attr := ecs.CreateDescribeInstanceAttributeRequest()
	attr.InstanceId = inst
	a, err := sim.ECS.DescribeInstanceAttribute(attr)
	ok(t, a, err)
	assert.Equal(t, eip.EipAddress, a.EipAddress.IpAddress)
	assert.Equal(t, eip.AllocationId, a.EipAddress.AllocationId)

	rel := vpc.CreateReleaseEipAddressRequest()
	rel.RegionId = region
	rel.AllocationId = eip.AllocationId
	_, err = sim.VPC.ReleaseEipAddress(rel)
	requireAPIError(t, err, "IncorrectEipStatus", 400)

	un := vpc.CreateUnassociateEipAddressRequest()
	un.RegionId = region
	un.AllocationId = eip.AllocationId
	un.InstanceId = inst
	ur, err := sim.VPC.UnassociateEipAddress(un)
	ok(t, ur, err)
	rr, err := sim.VPC.ReleaseEipAddress(rel)
	ok(t, rr, err)
	_, err = sim.VPC.ReleaseEipAddress(rel)
	requireAPIError(t, err, "InvalidAllocationId.NotFound", 404)

	// The older ECS actions work on the same EIPs.
	ealloc := ecs.CreateAllocateEipAddressRequest()
	ealloc.RegionId = region
	e2, err := sim.ECS.AllocateEipAddress(ealloc)
	ok(t, e2, err)
	eassoc := ecs.CreateAssociateEipAddressRequest()
	eassoc.AllocationId = e2.AllocationId
	eassoc.InstanceId = inst
	eassoc.RegionId = region
	ear, err := sim.ECS.AssociateEipAddress(eassoc)
	ok(t, ear, err)
	edesc := ecs.CreateDescribeEipAddressesRequest()
	edesc.RegionId = region
	edesc.AssociatedInstanceId = inst
	ed, err := sim.ECS.DescribeEipAddresses(edesc)
	ok(t, ed, err)
	require.Len(t, ed.EipAddresses.EipAddress, 1)
	assert.Equal(t, e2.EipAddress, ed.EipAddresses.EipAddress[0].IpAddress)
	assert.Equal(t, "EcsInstance", ed.EipAddresses.EipAddress[0].InstanceType)
	eun := ecs.CreateUnassociateEipAddressRequest()
	eun.RegionId = region
	eun.AllocationId = e2.AllocationId
	eun.InstanceId = inst
	eur, err := sim.ECS.UnassociateEipAddress(eun)
	ok(t, eur, err)
	erel := ecs.CreateReleaseEipAddressRequest()
	erel.RegionId = region
	erel.AllocationId = e2.AllocationId
	err2, err := sim.ECS.ReleaseEipAddress(erel)
	ok(t, err2, err)
	assert.Empty(t, sim.Resources().EIPs)
}

func TestEIPTransitions(t *testing.T) {
	sim := newSimWith(t, cloudsim.Faults{NetworkTime: cloudsim.Duration(50 * time.Millisecond)})
	group := createGroup(t, sim)
	inst := runInstance(t, sim, group, nil)
	alloc := vpc.CreateAllocateEipAddressRequest()
	alloc.RegionId = region
	eip, err := sim.VPC.AllocateEipAddress(alloc)
	ok(t, eip, err)
	assoc := vpc.CreateAssociateEipAddressRequest()
	assoc.RegionId = region
	assoc.AllocationId = eip.AllocationId
	assoc.InstanceId = inst
	ar, err := sim.VPC.AssociateEipAddress(assoc)
	ok(t, ar, err)
	eventually(t, "the EIP to be InUse", 10*time.Second, func() (bool, error) {
		desc := vpc.CreateDescribeEipAddressesRequest()
		desc.RegionId = region
		desc.AllocationId = eip.AllocationId
		d, err := sim.VPC.DescribeEipAddresses(desc)
		if err != nil {
			return false, err
		}
		return len(d.EipAddresses.EipAddress) == 1 && d.EipAddresses.EipAddress[0].Status == "InUse", nil
	})
}

func TestLegacyECSNetworkActionsAndProductRegions(t *testing.T) {
	sim := newSim(t)
	cv := ecs.CreateCreateVpcRequest()
	cv.RegionId = region
	cv.CidrBlock = "10.0.0.0/8"
	v, err := sim.ECS.CreateVpc(cv)
	ok(t, v, err)
	cs := ecs.CreateCreateVSwitchRequest()
	cs.RegionId = region
	cs.VpcId = v.VpcId
	cs.ZoneId = "cn-hangzhou-k"
	cs.CidrBlock = "10.1.0.0/16"
	sw, err := sim.ECS.CreateVSwitch(cs)
	ok(t, sw, err)

	sg := ecs.CreateCreateSecurityGroupRequest()
	sg.RegionId = region
	sg.VpcId = v.VpcId
	group, err := sim.ECS.CreateSecurityGroup(sg)
	ok(t, group, err)
	inst := runInstance(t, sim, group.SecurityGroupId, func(r *ecs.RunInstancesRequest) {
		r.VSwitchId = sw.VSwitchId
		r.PrivateIpAddress = "10.1.2.3"
	})
	private, _ := addresses(t, sim, inst)
	assert.Equal(t, "10.1.2.3", private)

	// A security group of another VPC does not fit the VSwitch.
	other := runInstanceErr(sim, createGroup(t, sim), sw.VSwitchId)
	requireAPIError(t, other, "InvalidSecurityGroupId.VPCMismatch", 400)

	cr := ecs.CreateCreateRouteEntryRequest()
	cr.RegionId = region
	cr.RouteTableId = v.RouteTableId
	cr.DestinationCidrBlock = "192.168.50.0/24"
	cr.NextHopId = inst
	crr, err := sim.ECS.CreateRouteEntry(cr)
	ok(t, crr, err)
	dv := vpc.CreateDeleteVpcRequest()
	dv.RegionId = region
	dv.VpcId = v.VpcId
	_, err = sim.VPC.DeleteVpc(dv)
	requireAPIError(t, err, "DependencyViolation.VSwitch", 400)
	dsw := ecs.CreateDeleteVSwitchRequest()
	dsw.VSwitchId = sw.VSwitchId
	dsw.RegionId = region
	_, err = sim.ECS.DeleteVSwitch(dsw)
	requireAPIError(t, err, "DependencyViolation.Instance", 400)

	revoke := ecs.CreateRevokeSecurityGroupEgressRequest()
	revoke.RegionId = region
	revoke.SecurityGroupId = group.SecurityGroupId
	revoke.IpProtocol = "all"
	revoke.PortRange = "-1/-1"
	revoke.DestCidrIp = "0.0.0.0/0"
	rr, err := sim.ECS.RevokeSecurityGroupEgress(revoke)
	ok(t, rr, err)

	vr, err := sim.VPC.DescribeRegions(vpc.CreateDescribeRegionsRequest())
	ok(t, vr, err)
	assert.NotEmpty(t, vr.Regions.Region)
	vz := vpc.CreateDescribeZonesRequest()
	vz.RegionId = "cn-shanghai"
	vzr, err := sim.VPC.DescribeZones(vz)
	ok(t, vzr, err)
	assert.Len(t, vzr.Zones.Zone, 2)
	sr, err := sim.SLB.DescribeRegions(slb.CreateDescribeRegionsRequest())
	ok(t, sr, err)
	assert.NotEmpty(t, sr.Regions.Region)
	sz := slb.CreateDescribeZonesRequest()
	sz.RegionId = "cn-shanghai"
	szr, err := sim.SLB.DescribeZones(sz)
	ok(t, szr, err)
	require.Len(t, szr.Zones.Zone, 2)
	assert.Len(t, szr.Zones.Zone[0].SlaveZones.SlaveZone, 1)
}

func runInstanceErr(sim *cloudsimtest.Sim, group, vswitch string) error {
	req := ecs.CreateRunInstancesRequest()
	req.RegionId = region
	req.ImageId = ubuntu
	req.InstanceType = "ecs.n4.small"
	req.SecurityGroupId = group
	req.VSwitchId = vswitch
	_, err := sim.ECS.RunInstances(req)
	return err
}
