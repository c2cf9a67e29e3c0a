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
		"DescribeVRouters":       s.describeVRouters,

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
	v.Tags = tags
	if d := s.faults.get().NetworkTime.D(); d > 0 {
		v.Status = "Pending"
		id := v.ID
		s.goBackground(func(ctx context.Context) {
			if sleepCtx(ctx, d) == nil {
				s.mu.Lock()
				if v := s.st.vpcs.at(id); v != nil {
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

// The table pickers regionalCall takes.
func vpcsOf(st *state) *table[*vpc]               { return st.vpcs }
func vswitchesOf(st *state) *table[*vswitch]      { return st.vswitches }
func eipsOf(st *state) *table[*eip]               { return st.eips }
func lbsOf(st *state) *table[*loadBalancer]       { return st.loadBalancers }
func routeTablesOf(st *state) *table[*routeTable] { return st.routeTables }

func (s *Server) vpcDeleteVpc(c *callCtx) (obj, error) {
	v, err := regionalCall(s, c, "VpcId", vpcsOf)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	if err := s.st.vpcs.deletable(v); err != nil {
		return nil, err
	}
	if err := c.dryRun(); err != nil {
		return nil, err
	}
	if rt := s.st.routeTables.at(v.RouteTableID); rt != nil {
		s.st.routeTables.remove(rt)
	}
	s.st.vpcs.remove(v)
	return obj{}, nil
}

func (s *Server) vpcCreateVSwitch(c *callCtx) (obj, error) {
	r, args, err := c.regionWith("VpcId", "ZoneId", "CidrBlock")
	if err != nil {
		return nil, err
	}
	vpcID, zoneID, cidrText := args[0], args[1], args[2]
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
	v, err := s.st.vpcs.find(r.ID, vpcID)
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
	if sw, ok := s.st.vswitches.first(func(sw *vswitch) bool { return sw.VpcID == vpcID && prefixesOverlap(sw.Cidr, cidr) }); ok {
		return nil, newErrorf("InvalidCidrBlock.Overlapped", "Specified CIDR block %s overlapped with VSwitch %s (%s).", cidr, sw.ID, sw.Cidr)
	}
	sw := s.st.addVSwitch(v, zoneID, name, c.p.get("Description"), cidr, time.Now().UTC())
	sw.Tags = tags
	return obj{"VSwitchId": sw.ID}, nil
}

func (s *Server) vpcDeleteVSwitch(c *callCtx) (obj, error) {
	sw, err := regionalCall(s, c, "VSwitchId", vswitchesOf)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	if err := s.st.vswitches.removeChecked(sw); err != nil {
		return nil, err
	}
	s.st.removeVSwitchRoutes(sw)
	return obj{}, nil
}

func (s *Server) vswitchIDsOf(vpcID string) []string {
	out := []string{}
	for _, sw := range s.st.vswitches.list(selector{order: byID}, func(sw *vswitch) bool { return sw.VpcID == vpcID }) {
		out = append(out, sw.ID)
	}
	return out
}

// filterVpcs applies the DescribeVpcs filters of both products; the caller
// holds s.mu.
func (s *Server) filterVpcs(c *callCtx, region string) ([]*vpc, error) {
	sel, isDefault, err := c.defaultsSelection(region, "VpcId")
	if err != nil {
		return nil, err
	}
	return s.st.vpcs.list(sel, func(v *vpc) bool {
		return isDefault(v.IsDefault) && c.p.eq("VpcName", v.Name) && c.p.eq("ResourceGroupId", v.ResourceGroupID)
	}), nil
}

// defaultsSelection reads the IDs in idParam, IsDefault and Tag.N, the
// filters DescribeVpcs and DescribeVSwitches share.
func (c *callCtx) defaultsSelection(region, idParam string) (selector, func(bool) bool, error) {
	ids, err := c.p.idList(idParam)
	if err != nil {
		return selector{}, nil, err
	}
	want, err := c.p.boolean("IsDefault", false)
	if err != nil {
		return selector{}, nil, err
	}
	filterTags, err := c.p.tagPairs("Tag")
	if err != nil {
		return selector{}, nil, err
	}
	given := c.p.has("IsDefault")
	return selector{region: region, ids: ids, tags: filterTags}, func(have bool) bool { return !given || have == want }, nil
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
		"Tags":                obj{"Tag": tagViews(v.Tags)},
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
	v, err := regionalCall(s, c, "VpcId", vpcsOf)
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
	sel, isDefault, err := c.defaultsSelection(region, "VSwitchId")
	if err != nil {
		return nil, err
	}
	return s.st.vswitches.list(sel, func(sw *vswitch) bool {
		return c.p.eq("VpcId", sw.VpcID) && c.p.eq("ZoneId", sw.ZoneID) && isDefault(sw.IsDefault) && c.p.eq("VSwitchName", sw.Name)
	}), nil
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
	if v := s.st.vpcs.at(sw.VpcID); v != nil {
		rtID = v.RouteTableID
	}
	out["NetworkAclId"], out["ShareType"], out["EnabledIpv6"], out["Ipv6CidrBlock"] = "", "Sharing", false, ""
	out["RouteTable"] = obj{"RouteTableId": rtID, "RouteTableType": "System"}
	out["Tags"] = obj{"Tag": tagViews(sw.Tags)}
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
	sw, err := regionalCall(s, c, "VSwitchId", vswitchesOf)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := s.vpcVSwitchView(sw)
	out["CloudResources"] = obj{"CloudResourceSetType": []obj{}}
	return out, nil
}

// Route tables and entries.

func (rt *routeTable) busy() *routeEntry {
	for _, e := range rt.Entries {
		if e.Status == "Pending" || e.Status == "Deleting" {
			return e
		}
	}
	return nil
}

func (s *Server) vpcCreateRouteEntry(c *callCtx) (obj, error) {
	r, args, err := c.regionWith("RouteTableId", "DestinationCidrBlock")
	if err != nil {
		return nil, err
	}
	rtID, destText := args[0], args[1]
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
	rt, err := s.st.routeTables.find(r.ID, rtID)
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
	inst := s.st.instances.at(hop)
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
	for _, t := range s.st.routeTables.list(selector{region: r.ID, order: byID}, nil) {
		if rtID != "" && t.ID != rtID {
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
	if rtID != "" && !s.st.routeTables.has(rtID) {
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
	return s.st.routeTables.list(selector{region: region, order: byID}, func(rt *routeTable) bool {
		return c.p.eq("RouteTableId", rt.ID) && c.p.eq("VRouterId", rt.VRouterID) && c.p.eq("RouterId", rt.VRouterID) &&
			c.p.eq("VpcId", rt.VpcID) && c.p.eq("RouterType", "VRouter") && c.p.eq("RouteTableType", "System")
	})
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
	if c.p.get("RegionId") == "" {
		// RegionId is optional here: the route table or router named
		// decides the region.
		region, err := s.routeTableRegion(c)
		if err != nil {
			return nil, err
		}
		c.p["RegionId"] = region
	}
	return s.describeRouteTables(c, ecsRouteEntryView, false)
}

// routeTableRegion is the region of the route table or VRouter a
// DescribeRouteTables without RegionId names.
func (s *Server) routeTableRegion(c *callCtx) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id := c.p.get("RouteTableId"); id != "" {
		rt, err := s.st.routeTables.find("", id)
		if err != nil {
			return "", err
		}
		return rt.RegionID, nil
	}
	for _, param := range []string{"VRouterId", "RouterId"} {
		id := c.p.get(param)
		if id == "" {
			continue
		}
		if v, ok := s.st.vpcs.first(func(v *vpc) bool { return v.VRouterID == id }); ok {
			return v.RegionID, nil
		}
		return "", newErrorf("InvalidVRouterId.NotFound", "The specified VRouterId %q does not exist.", id)
	}
	return "", newError("MissingParameter", "The input parameter \"RegionId\" that is mandatory for processing this request is not supplied: give RegionId, RouteTableId or VRouterId.")
}

// vrouterView is one VRouter: every VPC has one, holding its route table.
func vrouterView(v *vpc) obj {
	return obj{
		"VRouterId": v.VRouterID, "VpcId": v.ID, "RegionId": v.RegionID, "VRouterName": "", "Description": "",
		"CreationTime": apiTime(v.Created), "RouteTableIds": obj{"RouteTableId": []string{v.RouteTableID}},
	}
}

// describeVRouters is DescribeVRouters of ECS (deprecated, still served) and VPC.
func (s *Server) describeVRouters(c *callCtx) (obj, error) {
	return describePage(s, c, 10, 50, "VRouters", "VRouter", func(region string) ([]*vpc, error) {
		return s.st.vpcs.list(selector{region: region}, func(v *vpc) bool { return c.p.eq("VRouterId", v.VRouterID) }), nil
	}, vrouterView)
}

func (s *Server) vpcDescribeRouteTables(c *callCtx) (obj, error) {
	return s.describeRouteTables(c, vpcRouteEntryView, true)
}

func (s *Server) vpcDescribeRouteEntryList(c *callCtx) (obj, error) {
	r, args, err := c.regionWith("RouteTableId")
	if err != nil {
		return nil, err
	}
	rtID := args[0]
	maxResults, err := c.p.integer("MaxResult", 20, 1, 100)
	if err != nil {
		return nil, err
	}
	dests := c.p.list("DestCidrBlockList")
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, err := s.st.routeTables.find(r.ID, rtID)
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
			"Tags": obj{"Tag": tagViews(rt.Tags)},
		}
	})
	if err != nil {
		return nil, err
	}
	answer["Success"], answer["Code"], answer["Message"] = true, "200", "successful"
	return answer, nil
}
