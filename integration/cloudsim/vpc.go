package cloudsim

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// vpcActions is the VPC (2016-04-28) action table.
func (s *Server) vpcActions() map[string]handler {
	return map[string]handler{
		"DescribeRegions": s.vpcDescribeRegions,
		"DescribeZones":   s.vpcDescribeZones,

		"CreateVpc":                 s.vpcCreateVpc,
		"DeleteVpc":                 s.vpcDeleteVpc,
		"DescribeVpcs":              s.vpcDescribeVpcs,
		"DescribeVpcAttribute":      s.vpcDescribeVpcAttribute,
		"CreateVSwitch":             s.vpcCreateVSwitch,
		"DeleteVSwitch":             s.vpcDeleteVSwitch,
		"DescribeVSwitches":         s.vpcDescribeVSwitches,
		"DescribeVSwitchAttributes": s.vpcDescribeVSwitchAttributes,

		"AllocateEipAddress":    s.vpcAllocateEipAddress,
		"AssociateEipAddress":   s.eipAssociate,
		"UnassociateEipAddress": s.eipUnassociate,
		"ReleaseEipAddress":     s.eipRelease,
		"DescribeEipAddresses":  s.vpcDescribeEipAddresses,

		"CreateRouteEntry":       s.vpcCreateRouteEntry,
		"DeleteRouteEntry":       s.vpcDeleteRouteEntry,
		"DescribeRouteTables":    s.vpcDescribeRouteTables,
		"DescribeRouteEntryList": s.vpcDescribeRouteEntryList,
		"DescribeRouteTableList": s.vpcDescribeRouteTableList,

		"TagResources":     s.tagResources,
		"UnTagResources":   s.untagResources,
		"UntagResources":   s.untagResources,
		"ListTagResources": s.listTagResources,
	}
}

func (s *Server) vpcDescribeRegions(c *callCtx) (obj, error) {
	out := []obj{}
	for _, r := range regions {
		out = append(out, obj{"RegionId": r.ID, "LocalName": r.LocalName, "RegionEndpoint": c.regionEndpoint()})
	}
	return obj{"Regions": obj{"Region": out}}, nil
}

func (s *Server) vpcDescribeZones(c *callCtx) (obj, error) {
	r, err := c.region()
	if err != nil {
		return nil, err
	}
	out := []obj{}
	for _, z := range r.Zones {
		out = append(out, obj{"ZoneId": z.ID, "LocalName": z.LocalName, "ZoneType": "AvailabilityZone"})
	}
	return obj{"Zones": obj{"Zone": out}}, nil
}

func checkResourceName(param, name string) error {
	if name != "" && (len([]rune(name)) > 128 || strings.HasPrefix(name, "http://") || strings.HasPrefix(name, "https://")) {
		return newErrorf("InvalidName.Malformed", "The specified %s %q is not valid: up to 128 characters, not starting with http:// or https://.", param, name)
	}
	return nil
}

func (s *Server) vpcCreateVpc(c *callCtx) (obj, error) {
	r, err := c.region()
	if err != nil {
		return nil, err
	}
	cidr := netip.MustParsePrefix("172.16.0.0/12")
	if v := c.p.get("CidrBlock"); v != "" {
		var ok bool
		if cidr, ok = privateCIDR(v); !ok {
			return nil, newErrorf("InvalidCidrBlock.Malformed", "Specified CIDR block %q is not valid: use a block of 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 with a mask of /8 to /28.", v)
		}
	}
	name := c.p.get("VpcName")
	if err := checkResourceName("VpcName", name); err != nil {
		return nil, err
	}
	tags, err := c.p.tagPairs("Tag")
	if err != nil {
		return nil, err
	}
	if err := c.dryRun(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.st.addVpc(r.ID, name, c.p.get("Description"), cidr, time.Now().UTC())
	if g := c.p.get("ResourceGroupId"); g != "" {
		v.ResourceGroupID = g
	}
	if err := s.st.setTags("vpc", v.ID, tags); err != nil {
		return nil, err
	}
	if d := s.faults.get().NetworkTime.D(); d > 0 {
		v.Status = "Pending"
		id := v.ID
		s.goBackground(func(ctx context.Context) {
			if sleepCtx(ctx, d) == nil {
				s.mu.Lock()
				if v := s.st.vpcs[id]; v != nil {
					v.Status = "Available"
				}
				s.mu.Unlock()
			}
		})
	}
	answer := obj{"VpcId": v.ID, "VRouterId": v.VRouterID, "RouteTableId": v.RouteTableID}
	if c.product.Name == "Vpc" {
		answer["ResourceGroupId"] = v.ResourceGroupID
	}
	return answer, nil
}

func (st *state) vpcInRegion(region, id string) (*vpc, error) {
	v := st.vpcs[id]
	if v == nil || v.RegionID != region {
		return nil, newErrorf("InvalidVpcId.NotFound", "Specified VPC %q does not exist in region %s.", id, region)
	}
	return v, nil
}

func (s *Server) vpcDeleteVpc(c *callCtx) (obj, error) {
	v, err := regionalCall(s, c, "VpcId", (*state).vpcInRegion)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	id := v.ID
	for _, sw := range s.st.vswitches {
		if sw.VpcID == id {
			return nil, newErrorf("DependencyViolation.VSwitch", "Specified object has dependent resources: VPC %s still has VSwitch %s; delete the VSwitches first.", id, sw.ID)
		}
	}
	for _, sg := range s.st.securityGroups {
		if sg.VpcID == id {
			return nil, newErrorf("DependencyViolation.SecurityGroup", "Specified object has dependent resources: VPC %s still has security group %s.", id, sg.ID)
		}
	}
	if rt := s.st.routeTables[v.RouteTableID]; rt != nil {
		for _, e := range rt.Entries {
			if e.Type == "Custom" {
				return nil, newErrorf("DependencyViolation.RouteEntry", "Specified object has dependent resources: VPC %s still has the custom route entry %s (%s).", id, e.ID, e.Dest)
			}
		}
	}
	if err := c.dryRun(); err != nil {
		return nil, err
	}
	delete(s.st.routeTables, v.RouteTableID)
	delete(s.st.vpcs, id)
	s.st.dropResource("vpc", id)
	s.st.dropResource("routetable", v.RouteTableID)
	return obj{}, nil
}

func (s *Server) vpcCreateVSwitch(c *callCtx) (obj, error) {
	r, err := c.region()
	if err != nil {
		return nil, err
	}
	vpcID, err := c.p.required("VpcId")
	if err != nil {
		return nil, err
	}
	zoneID, err := c.p.required("ZoneId")
	if err != nil {
		return nil, err
	}
	cidrText, err := c.p.required("CidrBlock")
	if err != nil {
		return nil, err
	}
	if r.zone(zoneID) == nil {
		return nil, newErrorf("InvalidZoneId.NotFound", "The specified zone %q does not exist in region %s.", zoneID, r.ID)
	}
	cidr, err := netip.ParsePrefix(cidrText)
	if err != nil || !cidr.Addr().Is4() || cidr.Masked() != cidr || cidr.Bits() < 16 || cidr.Bits() > 29 {
		return nil, newErrorf("InvalidCidrBlock.Malformed", "Specified CIDR block %q is not valid: a network address with a mask of /16 to /29.", cidrText)
	}
	name := c.p.get("VSwitchName")
	if err := checkResourceName("VSwitchName", name); err != nil {
		return nil, err
	}
	tags, err := c.p.tagPairs("Tag")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.st.vpcInRegion(r.ID, vpcID)
	if err != nil {
		return nil, err
	}
	if v.Status != "Available" {
		return nil, newErrorf("IncorrectVpcStatus", "Current VPC status does not support this operation: %s is %s.", v.ID, v.Status)
	}
	vc := netip.MustParsePrefix(v.CidrBlock)
	if !vc.Contains(cidr.Addr()) || cidr.Bits() < vc.Bits() {
		return nil, newErrorf("InvalidCidrBlock.Malformed", "Specified CIDR block %s is not inside the VPC's %s.", cidr, vc)
	}
	for _, sw := range s.st.vswitches {
		if sw.VpcID == vpcID && prefixesOverlap(sw.Cidr, cidr) {
			return nil, newErrorf("InvalidCidrBlock.Overlapped", "Specified CIDR block %s overlapped with VSwitch %s (%s).", cidr, sw.ID, sw.Cidr)
		}
	}
	sw := s.st.addVSwitch(v, zoneID, name, c.p.get("Description"), cidr, time.Now().UTC())
	if err := s.st.setTags("vswitch", sw.ID, tags); err != nil {
		return nil, err
	}
	return obj{"VSwitchId": sw.ID}, nil
}

// vswitchInRegion returns the VSwitch or InvalidVSwitchId.NotFound.
func (st *state) vswitchInRegion(region, id string) (*vswitch, error) {
	sw := st.vswitches[id]
	if sw == nil || sw.RegionID != region {
		return nil, newErrorf("InvalidVSwitchId.NotFound", "The VSwitchId %q provided does not exist in our records.", id)
	}
	return sw, nil
}

func (s *Server) vpcDeleteVSwitch(c *callCtx) (obj, error) {
	sw, err := regionalCall(s, c, "VSwitchId", (*state).vswitchInRegion)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	id := sw.ID
	for _, inst := range s.st.instances {
		if inst.VSwitchID == id {
			return nil, newErrorf("DependencyViolation.Instance", "Specified object has dependent resources: VSwitch %s still has instance %s.", id, inst.ID)
		}
	}
	for _, lb := range s.st.loadBalancers {
		if lb.VSwitchID == id {
			return nil, newErrorf("DependencyViolation.Instance", "Specified object has dependent resources: VSwitch %s still has load balancer %s.", id, lb.ID)
		}
	}
	s.st.removeVSwitchRoutes(sw)
	delete(s.st.vswitches, id)
	s.st.dropResource("vswitch", id)
	return obj{}, nil
}

func (s *Server) vswitchIDsOf(vpcID string) []string {
	out := []string{}
	for _, id := range sortedKeys(s.st.vswitches) {
		if s.st.vswitches[id].VpcID == vpcID {
			out = append(out, id)
		}
	}
	return out
}

// filterVpcs applies the DescribeVpcs filters of both products; the caller
// holds s.mu.
func (s *Server) filterVpcs(c *callCtx, region string) ([]*vpc, error) {
	ids, err := c.p.idList("VpcId")
	if err != nil {
		return nil, err
	}
	isDefault, err := c.p.boolean("IsDefault", false)
	if err != nil {
		return nil, err
	}
	filterTags, err := c.p.tagPairs("Tag")
	if err != nil {
		return nil, err
	}
	var list []*vpc
	for _, v := range s.st.vpcs {
		if v.RegionID != region || (len(ids) > 0 && !slices.Contains(ids, v.ID)) {
			continue
		}
		if c.p.has("IsDefault") && v.IsDefault != isDefault {
			continue
		}
		if n := c.p.get("VpcName"); n != "" && n != v.Name {
			continue
		}
		if g := c.p.get("ResourceGroupId"); g != "" && g != v.ResourceGroupID {
			continue
		}
		if !s.st.matchTags("vpc", v.ID, filterTags) {
			continue
		}
		list = append(list, v)
	}
	slices.SortFunc(list, func(a, b *vpc) int { return byCreated(a.Created, b.Created, a.ID, b.ID) })
	return list, nil
}

func (s *Server) ecsVpcView(v *vpc) obj {
	return obj{
		"VpcId": v.ID, "VpcName": v.Name, "Status": v.Status, "CidrBlock": v.CidrBlock, "IsDefault": v.IsDefault,
		"RegionId": v.RegionID, "VRouterId": v.VRouterID, "Description": v.Description, "CreationTime": apiTime(v.Created),
		"VSwitchIds": obj{"VSwitchId": s.vswitchIDsOf(v.ID)}, "UserCidrs": obj{"UserCidr": []string{}},
	}
}

func (s *Server) vpcVpcView(v *vpc) obj {
	out := s.ecsVpcView(v)
	extra := obj{
		"ResourceGroupId": v.ResourceGroupID, "Ipv6CidrBlock": "", "EnabledIpv6": false, "DhcpOptionsSetId": "",
		"DhcpOptionsSetStatus": "", "DnsHostnameStatus": "DISABLED", "CenStatus": "Detached", "NetworkAclNum": "0",
		"AdvancedResource": true, "SupportAdvancedFeature": true,
		"RouterTableIds":      obj{"RouterTableIds": []string{v.RouteTableID}},
		"NatGatewayIds":       obj{"NatGatewayIds": []string{}},
		"SecondaryCidrBlocks": obj{"SecondaryCidrBlock": []string{}},
		"Ipv6CidrBlocks":      obj{"Ipv6CidrBlock": []obj{}},
		"Tags":                obj{"Tag": tagViews(s.st.tagsOf("vpc", v.ID))},
	}
	for k, val := range extra {
		out[k] = val
	}
	return out
}

func (s *Server) describeVpcs(c *callCtx, view func(*vpc) obj) (obj, error) {
	return describePage(s, c, 10, 50, "Vpcs", "Vpc", func(region string) ([]*vpc, error) { return s.filterVpcs(c, region) }, view)
}

func (s *Server) ecsDescribeVpcs(c *callCtx) (obj, error) { return s.describeVpcs(c, s.ecsVpcView) }
func (s *Server) vpcDescribeVpcs(c *callCtx) (obj, error) { return s.describeVpcs(c, s.vpcVpcView) }

func (s *Server) vpcDescribeVpcAttribute(c *callCtx) (obj, error) {
	v, err := regionalCall(s, c, "VpcId", (*state).vpcInRegion)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := s.vpcVpcView(v)
	for _, k := range []string{"RouterTableIds", "NatGatewayIds", "CenStatus", "AdvancedResource", "SupportAdvancedFeature"} {
		delete(out, k)
	}
	out["ClassicLinkEnabled"] = false
	out["SupportIpv4Gateway"] = false
	out["Ipv4GatewayId"] = ""
	out["CloudResources"] = obj{"CloudResourceSetType": []obj{}}
	out["AssociatedCens"] = obj{"AssociatedCen": []obj{}}
	return out, nil
}

func (s *Server) filterVSwitches(c *callCtx, region string) ([]*vswitch, error) {
	ids, err := c.p.idList("VSwitchId")
	if err != nil {
		return nil, err
	}
	isDefault, err := c.p.boolean("IsDefault", false)
	if err != nil {
		return nil, err
	}
	filterTags, err := c.p.tagPairs("Tag")
	if err != nil {
		return nil, err
	}
	var list []*vswitch
	for _, sw := range s.st.vswitches {
		if sw.RegionID != region || (len(ids) > 0 && !slices.Contains(ids, sw.ID)) {
			continue
		}
		if v := c.p.get("VpcId"); v != "" && v != sw.VpcID {
			continue
		}
		if z := c.p.get("ZoneId"); z != "" && z != sw.ZoneID {
			continue
		}
		if c.p.has("IsDefault") && sw.IsDefault != isDefault {
			continue
		}
		if n := c.p.get("VSwitchName"); n != "" && n != sw.Name {
			continue
		}
		if !s.st.matchTags("vswitch", sw.ID, filterTags) {
			continue
		}
		list = append(list, sw)
	}
	slices.SortFunc(list, func(a, b *vswitch) int { return byCreated(a.Created, b.Created, a.ID, b.ID) })
	return list, nil
}

func (s *Server) ecsVSwitchView(sw *vswitch) obj {
	return obj{
		"VSwitchId": sw.ID, "VpcId": sw.VpcID, "Status": sw.Status, "CidrBlock": sw.Cidr.String(), "ZoneId": sw.ZoneID,
		"AvailableIpAddressCount": sw.available(), "Description": sw.Description, "VSwitchName": sw.Name,
		"CreationTime": apiTime(sw.Created), "IsDefault": sw.IsDefault, "ResourceGroupId": s.st.defaultResourceGroup,
	}
}

func (s *Server) vpcVSwitchView(sw *vswitch) obj {
	out := s.ecsVSwitchView(sw)
	rtID := ""
	if v := s.st.vpcs[sw.VpcID]; v != nil {
		rtID = v.RouteTableID
	}
	out["NetworkAclId"], out["ShareType"], out["EnabledIpv6"], out["Ipv6CidrBlock"] = "", "Sharing", false, ""
	out["RouteTable"] = obj{"RouteTableId": rtID, "RouteTableType": "System"}
	out["Tags"] = obj{"Tag": tagViews(s.st.tagsOf("vswitch", sw.ID))}
	return out
}

func (s *Server) describeVSwitches(c *callCtx, view func(*vswitch) obj) (obj, error) {
	return describePage(s, c, 10, 50, "VSwitches", "VSwitch", func(region string) ([]*vswitch, error) { return s.filterVSwitches(c, region) }, view)
}

func (s *Server) ecsDescribeVSwitches(c *callCtx) (obj, error) {
	return s.describeVSwitches(c, s.ecsVSwitchView)
}

func (s *Server) vpcDescribeVSwitches(c *callCtx) (obj, error) {
	return s.describeVSwitches(c, s.vpcVSwitchView)
}

func (s *Server) vpcDescribeVSwitchAttributes(c *callCtx) (obj, error) {
	sw, err := regionalCall(s, c, "VSwitchId", (*state).vswitchInRegion)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := s.vpcVSwitchView(sw)
	out["CloudResources"] = obj{"CloudResourceSetType": []obj{}}
	return out, nil
}

// Route tables and entries.

func (st *state) routeTableInRegion(region, id string) (*routeTable, error) {
	rt := st.routeTables[id]
	if rt == nil || rt.RegionID != region {
		return nil, newErrorf("InvalidRouteTableId.NotFound", "The specified route table %q does not exist.", id)
	}
	return rt, nil
}

func (rt *routeTable) busy() *routeEntry {
	for _, e := range rt.Entries {
		if e.Status == "Pending" || e.Status == "Deleting" {
			return e
		}
	}
	return nil
}

func (s *Server) vpcCreateRouteEntry(c *callCtx) (obj, error) {
	r, err := c.region()
	if err != nil {
		return nil, err
	}
	rtID, err := c.p.required("RouteTableId")
	if err != nil {
		return nil, err
	}
	destText, err := c.p.required("DestinationCidrBlock")
	if err != nil {
		return nil, err
	}
	dest, err := netip.ParsePrefix(destText)
	if err != nil || !dest.Addr().Is4() {
		return nil, newErrorf("InvalidDestinationCidrBlock.Malformed", "The specified DestinationCidrBlock %q is not a valid IPv4 CIDR block.", destText)
	}
	hopType, err := c.p.oneOf("NextHopType", "Instance", "Instance", "HaVip", "RouterInterface", "NetworkInterface", "VpnGateway", "IPv6Gateway", "NatGateway", "Attachment", "VpcPeer", "Ipv4Gateway", "GatewayEndpoint", "Ecr")
	if err != nil {
		return nil, err
	}
	if hopType != "Instance" {
		return nil, newErrorf("InvalidParameter.NextHopType", "The simulator routes to ECS instances only (NextHopType Instance), not %s.", hopType)
	}
	hop, err := c.p.required("NextHopId")
	if err != nil {
		return nil, err
	}
	name := c.p.get("RouteEntryName")
	if err := checkResourceName("RouteEntryName", name); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, err := s.st.routeTableInRegion(r.ID, rtID)
	if err != nil {
		return nil, err
	}
	if b := rt.busy(); b != nil {
		return nil, newErrorf("IncorrectRouteEntryStatus", "The current status of the route entry does not support this operation: route entry %s of table %s is still %s; retry later.", b.ID, rt.ID, b.Status)
	}
	for _, e := range rt.Entries {
		if e.Dest == dest.Masked().String() {
			return nil, newErrorf("InvalidCIDRBlock.Duplicate", "Specified CIDR block %s is already exists in route table %s.", dest, rt.ID)
		}
	}
	inst := s.st.instances[hop]
	if inst == nil || inst.VpcID != rt.VpcID {
		return nil, newErrorf("InvalidInstanceId.NotFound", "The next hop instance %q does not exist in the VPC of route table %s.", hop, rt.ID)
	}
	e := &routeEntry{
		ID: newID("rte", r.ID), RouteTableID: rt.ID, Dest: dest.Masked().String(), NextHopType: hopType, NextHopID: hop,
		Type: "Custom", Status: "Available", Name: name, Description: c.p.get("Description"),
	}
	rt.Entries = append(rt.Entries, e)
	if d := s.faults.get().NetworkTime.D(); d > 0 {
		e.Status = "Pending"
		s.goBackground(func(ctx context.Context) {
			if sleepCtx(ctx, d) == nil {
				s.mu.Lock()
				if e.Status == "Pending" {
					e.Status = "Available"
				}
				s.mu.Unlock()
			}
		})
	}
	if c.product.Name == "Vpc" {
		return obj{"RouteEntryId": e.ID}, nil
	}
	return obj{}, nil
}

func (s *Server) vpcDeleteRouteEntry(c *callCtx) (obj, error) {
	r, err := c.region()
	if err != nil {
		return nil, err
	}
	entryID := c.p.get("RouteEntryId")
	rtID := c.p.get("RouteTableId")
	dest := c.p.get("DestinationCidrBlock")
	if entryID == "" {
		if rtID == "" {
			return nil, errMissing("RouteTableId")
		}
		if dest == "" {
			return nil, errMissing("DestinationCidrBlock")
		}
	}
	hop := c.p.get("NextHopId")
	s.mu.Lock()
	defer s.mu.Unlock()
	var rt *routeTable
	var entry *routeEntry
	for _, t := range s.st.routeTables {
		if t.RegionID != r.ID || (rtID != "" && t.ID != rtID) {
			continue
		}
		for _, e := range t.Entries {
			if e.Type != "Custom" {
				continue
			}
			if (entryID != "" && e.ID == entryID) || (entryID == "" && e.Dest == dest && (hop == "" || hop == e.NextHopID)) {
				rt, entry = t, e
			}
		}
	}
	if rtID != "" && s.st.routeTables[rtID] == nil {
		return nil, newErrorf("InvalidRouteTableId.NotFound", "The specified route table %q does not exist.", rtID)
	}
	if entry == nil {
		return nil, newError("InvalidRouteEntry.NotFound", "The specified route entry does not exist (only custom route entries can be deleted).")
	}
	if b := rt.busy(); b != nil {
		return nil, newErrorf("IncorrectRouteEntryStatus", "The current status of the route entry does not support this operation: route entry %s of table %s is still %s; retry later.", b.ID, rt.ID, b.Status)
	}
	remove := func() { rt.Entries = slices.DeleteFunc(rt.Entries, func(e *routeEntry) bool { return e == entry }) }
	if d := s.faults.get().NetworkTime.D(); d > 0 {
		entry.Status = "Deleting"
		s.goBackground(func(ctx context.Context) {
			if sleepCtx(ctx, d) == nil {
				s.mu.Lock()
				remove()
				s.mu.Unlock()
			}
		})
		return obj{}, nil
	}
	remove()
	return obj{}, nil
}

func nextHopsView(e *routeEntry) obj {
	hops := []obj{}
	if e.NextHopID != "" {
		hops = append(hops, obj{"NextHopId": e.NextHopID, "NextHopType": e.NextHopType, "Enabled": 1, "Weight": 0})
	}
	return obj{"NextHop": hops}
}

func ecsRouteEntryView(e *routeEntry) obj {
	return obj{
		"RouteTableId": e.RouteTableID, "DestinationCidrBlock": e.Dest, "Type": e.Type, "Status": e.Status,
		"NextHopType": e.NextHopType, "InstanceId": e.NextHopID, "NextHops": nextHopsView(e),
	}
}

func vpcRouteEntryView(e *routeEntry) obj {
	v := ecsRouteEntryView(e)
	v["RouteEntryId"], v["RouteEntryName"], v["Description"], v["IpVersion"] = e.ID, e.Name, e.Description, "IPv4"
	v["Origin"] = "Custom"
	if e.Type == "System" {
		v["Origin"] = "System"
	}
	return v
}

func (s *Server) filterRouteTables(c *callCtx, region string) []*routeTable {
	var list []*routeTable
	for _, rt := range s.st.routeTables {
		if rt.RegionID != region {
			continue
		}
		if v := c.p.get("RouteTableId"); v != "" && v != rt.ID {
			continue
		}
		if v := c.p.get("VRouterId"); v != "" && v != rt.VRouterID {
			continue
		}
		if v := c.p.get("RouterId"); v != "" && v != rt.VRouterID {
			continue
		}
		if v := c.p.get("VpcId"); v != "" && v != rt.VpcID {
			continue
		}
		if v := c.p.get("RouterType"); v != "" && v != "VRouter" {
			continue
		}
		if v := c.p.get("RouteTableType"); v != "" && v != "System" {
			continue
		}
		list = append(list, rt)
	}
	slices.SortFunc(list, func(a, b *routeTable) int { return strings.Compare(a.ID, b.ID) })
	return list
}

func (s *Server) describeRouteTables(c *callCtx, entryView func(*routeEntry) obj, vpcShape bool) (obj, error) {
	return describePage(s, c, 10, 50, "RouteTables", "RouteTable", s.routeTableLister(c), func(rt *routeTable) obj {
		v := obj{
			"RouteTableId": rt.ID, "VRouterId": rt.VRouterID, "RouteTableType": "System",
			"CreationTime": apiTime(rt.Created), "ResourceGroupId": s.st.defaultResourceGroup,
			"RouteEntrys": obj{"RouteEntry": views(rt.Entries, entryView)},
		}
		if vpcShape {
			v["Status"] = "Available"
			v["VSwitchIds"] = obj{"VSwitchId": s.vswitchIDsOf(rt.VpcID)}
		}
		return v
	})
}

// routeTableLister adapts filterRouteTables, which cannot fail, to describePage.
func (s *Server) routeTableLister(c *callCtx) func(string) ([]*routeTable, error) {
	return func(region string) ([]*routeTable, error) { return s.filterRouteTables(c, region), nil }
}

func (s *Server) ecsDescribeRouteTables(c *callCtx) (obj, error) {
	return s.describeRouteTables(c, ecsRouteEntryView, false)
}

func (s *Server) vpcDescribeRouteTables(c *callCtx) (obj, error) {
	return s.describeRouteTables(c, vpcRouteEntryView, true)
}

func (s *Server) vpcDescribeRouteEntryList(c *callCtx) (obj, error) {
	r, err := c.region()
	if err != nil {
		return nil, err
	}
	rtID, err := c.p.required("RouteTableId")
	if err != nil {
		return nil, err
	}
	maxResults, err := c.p.integer("MaxResult", 20, 1, 100)
	if err != nil {
		return nil, err
	}
	dests := c.p.list("DestCidrBlockList")
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, err := s.st.routeTableInRegion(r.ID, rtID)
	if err != nil {
		return nil, err
	}
	var list []*routeEntry
	for _, e := range rt.Entries {
		if v := c.p.get("RouteEntryId"); v != "" && v != e.ID {
			continue
		}
		if v := c.p.get("DestinationCidrBlock"); v != "" && v != e.Dest {
			continue
		}
		if len(dests) > 0 && !slices.Contains(dests, e.Dest) {
			continue
		}
		if v := c.p.get("RouteEntryType"); v != "" && v != e.Type {
			continue
		}
		if v := c.p.get("NextHopId"); v != "" && v != e.NextHopID {
			continue
		}
		if v := c.p.get("NextHopType"); v != "" && v != e.NextHopType {
			continue
		}
		if v := c.p.get("RouteEntryName"); v != "" && v != e.Name {
			continue
		}
		list = append(list, e)
	}
	part, next, err := tokenPage(list, c.p.get("NextToken"), maxResults)
	if err != nil {
		return nil, err
	}
	return obj{"NextToken": next, "RouteEntrys": obj{"RouteEntry": views(part, vpcRouteEntryView)}}, nil
}

func (s *Server) vpcDescribeRouteTableList(c *callCtx) (obj, error) {
	answer, err := describePage(s, c, 10, 50, "RouterTableList", "RouterTableListType", s.routeTableLister(c), func(rt *routeTable) obj {
		return obj{
			"RouteTableId": rt.ID, "VpcId": rt.VpcID, "RouterId": rt.VRouterID, "RouterType": "VRouter",
			"RouteTableType": "System", "RouteTableName": "", "Description": "", "Status": "Available",
			"CreationTime": apiTime(rt.Created), "ResourceGroupId": s.st.defaultResourceGroup, "AssociateType": "VSwitch",
			"VSwitchIds": obj{"VSwitchId": s.vswitchIDsOf(rt.VpcID)}, "GatewayIds": obj{"GatewayIds": []string{}},
			"Tags": obj{"Tag": tagViews(s.st.tagsOf("routetable", rt.ID))},
		}
	})
	if err != nil {
		return nil, err
	}
	answer["Success"], answer["Code"], answer["Message"] = true, "200", "successful"
	return answer, nil
}
