package cloudsim

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ec2Actions is the EC2 (2016-11-15) action table.
func (s *Server) ec2Actions() map[string]ec2Handler {
	return map[string]ec2Handler{
		"DescribeRegions":           s.ec2DescribeRegions,
		"DescribeAvailabilityZones": s.ec2DescribeAvailabilityZones,
		"DescribeAccountAttributes": s.ec2DescribeAccountAttributes,

		"CreateVpc":       s.ec2CreateVpc,
		"DeleteVpc":       s.ec2DeleteVpc,
		"DescribeVpcs":    s.ec2DescribeVpcs,
		"CreateSubnet":    s.ec2CreateSubnet,
		"DeleteSubnet":    s.ec2DeleteSubnet,
		"DescribeSubnets": s.ec2DescribeSubnets,

		"CreateSecurityGroup":           s.ec2CreateSecurityGroup,
		"DeleteSecurityGroup":           s.ec2DeleteSecurityGroup,
		"DescribeSecurityGroups":        s.ec2DescribeSecurityGroups,
		"AuthorizeSecurityGroupIngress": s.ec2RuleAction(true, true),
		"AuthorizeSecurityGroupEgress":  s.ec2RuleAction(false, true),
		"RevokeSecurityGroupIngress":    s.ec2RuleAction(true, false),
		"RevokeSecurityGroupEgress":     s.ec2RuleAction(false, false),

		"CreateKeyPair":    s.ec2CreateKeyPair,
		"ImportKeyPair":    s.ec2ImportKeyPair,
		"DescribeKeyPairs": s.ec2DescribeKeyPairs,
		"DeleteKeyPair":    s.ec2DeleteKeyPair,
		"DescribeImages":   s.ec2DescribeImages,

		"RunInstances":           s.ec2RunInstances,
		"DescribeInstances":      s.ec2DescribeInstances,
		"DescribeInstanceStatus": s.ec2DescribeInstanceStatus,
		"StartInstances":         s.ec2StartInstances,
		"StopInstances":          s.ec2StopInstances,
		"RebootInstances":        s.ec2RebootInstances,
		"TerminateInstances":     s.ec2TerminateInstances,

		"CreateTags":   s.ec2CreateTags,
		"DeleteTags":   s.ec2DeleteTags,
		"DescribeTags": s.ec2DescribeTags,

		"DescribeVolumes":               s.ec2DescribeVolumes,
		"DeleteVolume":                  s.ec2DeleteVolume,
		"GetEbsEncryptionByDefault":     s.ec2GetEbsEncryptionByDefault,
		"EnableEbsEncryptionByDefault":  s.ec2SetEbsEncryptionByDefault(true),
		"DisableEbsEncryptionByDefault": s.ec2SetEbsEncryptionByDefault(false),
		"GetEbsDefaultKmsKeyId":         s.ec2GetEbsDefaultKmsKeyID,

		"RequestSpotInstances":         s.ec2RequestSpotInstances,
		"DescribeSpotInstanceRequests": s.ec2DescribeSpotInstanceRequests,
		"CancelSpotInstanceRequests":   s.ec2CancelSpotInstanceRequests,
	}
}

// EC2Actions lists the EC2 actions the simulator serves, sorted.
func EC2Actions() []string {
	return sortedKeys((&Server{}).ec2Actions())
}

func (s *Server) ec2DescribeRegions(c *ec2Call) ([]xnode, error) {
	want := c.p.list("RegionName")
	filters, err := c.filters()
	if err != nil {
		return nil, err
	}
	for _, w := range want {
		if findEC2Region(w) == nil {
			return nil, ec2Errorf("InvalidParameterValue", "Invalid region: %s", w)
		}
	}
	var items []xnode
	for _, r := range ec2Regions {
		if len(want) > 0 && !containsStr(want, r.Name) {
			continue
		}
		if !filterStatic(filters, map[string][]string{"region-name": one(r.Name), "endpoint": one(c.r.Host), "opt-in-status": one("opt-in-not-required")}) {
			continue
		}
		items = append(items, item(leaf("regionName", r.Name), leaf("regionEndpoint", c.r.Host), leaf("optInStatus", "opt-in-not-required")))
	}
	return []xnode{set("regionInfo", items)}, nil
}

// filterStatic matches filters against fixed values (catalog entries).
func filterStatic(filters []ec2Filter, have map[string][]string) bool {
	for _, f := range filters {
		if !anyMatch(f.values, have[f.name]) {
			return false
		}
	}
	return true
}

func (s *Server) ec2DescribeAvailabilityZones(c *ec2Call) ([]xnode, error) {
	names, ids := c.p.list("ZoneName"), c.p.list("ZoneId")
	filters, err := c.filters()
	if err != nil {
		return nil, err
	}
	r := c.region
	for _, n := range names {
		if !r.hasZone(n) {
			return nil, ec2Errorf("InvalidParameterValue", "The zone '%s' does not exist.", n)
		}
	}
	var items []xnode
	for _, z := range r.Zones {
		zid := r.zoneID(z)
		if (len(names) > 0 && !containsStr(names, z)) || (len(ids) > 0 && !containsStr(ids, zid)) {
			continue
		}
		have := map[string][]string{"zone-name": one(z), "zone-id": one(zid), "region-name": one(r.Name), "state": one("available"),
			"zone-type": one("availability-zone"), "group-name": one(r.Name), "opt-in-status": one("opt-in-not-required")}
		if !filterStatic(filters, have) {
			continue
		}
		items = append(items, item(
			leaf("zoneName", z), leaf("zoneState", "available"), leaf("regionName", r.Name), leaf("zoneId", zid),
			leaf("zoneType", "availability-zone"), leaf("optInStatus", "opt-in-not-required"), leaf("groupName", r.Name),
			leaf("networkBorderGroup", r.Name), set("messageSet", nil),
		))
	}
	return []xnode{set("availabilityZoneInfo", items)}, nil
}

type accountAttr struct {
	name   string
	values []string
}

func (s *Server) ec2DescribeAccountAttributes(c *ec2Call) ([]xnode, error) {
	s.mu.Lock()
	def := "none"
	if v := s.st.ec2.defaultVpc(c.region.Name); v != nil {
		def = v.ID
	}
	s.mu.Unlock()
	attrs := []accountAttr{
		{"supported-platforms", []string{"VPC"}}, {"default-vpc", []string{def}}, {"max-instances", []string{"20"}},
		{"vpc-max-security-groups-per-interface", []string{"5"}}, {"max-elastic-ips", []string{"5"}}, {"vpc-max-elastic-ips", []string{"5"}},
	}
	want := c.p.list("AttributeName")
	for _, w := range want {
		if !slices.ContainsFunc(attrs, func(a accountAttr) bool { return a.name == w }) {
			return nil, ec2Invalid("Value (%s) for parameter attributeName is invalid.", w)
		}
	}
	var items []xnode
	for _, a := range attrs {
		if len(want) > 0 && !containsStr(want, a.name) {
			continue
		}
		var vals []xnode
		for _, v := range a.values {
			vals = append(vals, item(leaf("attributeValue", v)))
		}
		items = append(items, item(leaf("attributeName", a.name), set("attributeValueSet", vals)))
	}
	return []xnode{set("accountAttributeSet", items)}, nil
}

// VPCs and subnets.

func (s *Server) ec2VpcView(v *ec2Vpc) xnode {
	return item(
		leaf("vpcId", v.ID), leaf("ownerId", s.st.ec2.account), leaf("state", "available"), leaf("cidrBlock", v.Cidr.String()),
		set("cidrBlockAssociationSet", []xnode{item(leaf("cidrBlock", v.Cidr.String()), leaf("associationId", "vpc-cidr-assoc-"+v.ID[4:]),
			elem("cidrBlockState", leaf("state", "associated")))}),
		leaf("dhcpOptionsId", v.DhcpOptionsID), tagSet(v.Tags), leaf("instanceTenancy", "default"), leaf("isDefault", v.IsDefault),
	)
}

func (s *Server) ec2CreateVpc(c *ec2Call) ([]xnode, error) {
	text, err := c.p.ec2Required("CidrBlock")
	if err != nil {
		return nil, err
	}
	cidr, err := netip.ParsePrefix(text)
	if err != nil || !cidr.Addr().Is4() || cidr.Bits() < 16 || cidr.Bits() > 28 {
		return nil, ec2Errorf("InvalidVpc.Range", "The CIDR '%s' is invalid: use a block from /16 to /28.", text)
	}
	specs, err := tagSpecs(c.p, "vpc")
	if err != nil {
		return nil, err
	}
	if err := c.dryRun(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.st.ec2.addVpc(c.region.Name, cidr.Masked(), false, time.Now().UTC())
	if err := withTags(&v.meta, specs["vpc"]); err != nil {
		return nil, err
	}
	view := s.ec2VpcView(v)
	view.name = "vpc"
	return []xnode{view}, nil
}

// ec2DeleteVpc deletes a VPC with its default security group.
func (s *Server) ec2DeleteVpc(c *ec2Call) ([]xnode, error) {
	return remove(s, c, "VpcId", func(e *ec2State) *table[*ec2Vpc] { return e.vpcs }, func(v *ec2Vpc) {
		for _, g := range s.st.ec2.groups.list(selector{}, func(g *ec2Group) bool { return g.VpcID == v.ID }) {
			s.st.ec2.groups.remove(g)
		}
	})
}

func (s *Server) ec2DescribeVpcs(c *ec2Call) ([]xnode, error) {
	return describe(s, c, describeSpec[*ec2Vpc]{
		table: func(e *ec2State) *table[*ec2Vpc] { return e.vpcs }, idParam: "VpcId", idPrefix: "vpc", malformed: "InvalidVpcID.Malformed",
		set: "vpcSet", view: s.ec2VpcView, paged: true, maxResults: 1000,
		fields: fields[*ec2Vpc]{
			"vpc-id": func(v *ec2Vpc) []string { return one(v.ID) }, "cidr": func(v *ec2Vpc) []string { return one(v.Cidr.String()) },
			"cidr-block-association.cidr-block": func(v *ec2Vpc) []string { return one(v.Cidr.String()) },
			"is-default":                        func(v *ec2Vpc) []string { return one(strconv.FormatBool(v.IsDefault)) },
			"state":                             func(*ec2Vpc) []string { return one("available") },
			"dhcp-options-id":                   func(v *ec2Vpc) []string { return one(v.DhcpOptionsID) },
			"owner-id":                          func(*ec2Vpc) []string { return one(s.st.ec2.account) },
		},
	})
}

// pagedSet is a Describe answer: one page of items and the nextToken.
func pagedSet(c *ec2Call, name string, all []xnode, minMax, maxMax int) ([]xnode, error) {
	part, next, err := c.page(all, minMax, maxMax)
	if err != nil {
		return nil, err
	}
	return append([]xnode{set(name, part)}, optional("nextToken", next)...), nil
}

func (s *Server) ec2SubnetView(sn *ec2Subnet) xnode {
	r := findEC2Region(sn.RegionID)
	return item(
		leaf("subnetId", sn.ID), leaf("subnetArn", "arn:aws:ec2:"+sn.RegionID+":"+s.st.ec2.account+":subnet/"+sn.ID),
		leaf("state", "available"), leaf("ownerId", s.st.ec2.account), leaf("vpcId", sn.VpcID), leaf("cidrBlock", sn.Cidr.String()),
		set("ipv6CidrBlockAssociationSet", nil), leaf("availableIpAddressCount", sn.available()),
		leaf("availabilityZone", sn.Zone), leaf("availabilityZoneId", r.zoneID(sn.Zone)), leaf("defaultForAz", sn.DefaultForAz),
		leaf("mapPublicIpOnLaunch", sn.MapPublicIP), leaf("assignIpv6AddressOnCreation", false), tagSet(sn.Tags),
		leaf("mapCustomerOwnedIpOnLaunch", false), leaf("enableDns64", false), leaf("ipv6Native", false),
		elem("privateDnsNameOptionsOnLaunch", leaf("hostnameType", "ip-name"), leaf("enableResourceNameDnsARecord", false), leaf("enableResourceNameDnsAAAARecord", false)),
	)
}

func (s *Server) ec2CreateSubnet(c *ec2Call) ([]xnode, error) {
	vpcID, err := c.p.ec2Required("VpcId")
	if err != nil {
		return nil, err
	}
	text, err := c.p.ec2Required("CidrBlock")
	if err != nil {
		return nil, err
	}
	cidr, err := netip.ParsePrefix(text)
	if err != nil || !cidr.Addr().Is4() || cidr.Bits() < 16 || cidr.Bits() > 28 {
		return nil, ec2Errorf("InvalidSubnet.Range", "The CIDR '%s' is invalid.", text)
	}
	zone := c.p.get("AvailabilityZone")
	if zone == "" {
		zone = c.region.Zones[0]
	}
	if !c.region.hasZone(zone) {
		return nil, ec2Errorf("InvalidParameterValue", "Value (%s) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: %s.", zone, strings.Join(c.region.Zones, ", "))
	}
	specs, err := tagSpecs(c.p, "subnet")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.st.ec2
	v, err := e.vpcs.find(c.region.Name, vpcID)
	if err != nil {
		return nil, err
	}
	if !v.Cidr.Contains(cidr.Addr()) || cidr.Bits() < v.Cidr.Bits() {
		return nil, ec2Errorf("InvalidSubnet.Range", "The CIDR '%s' is invalid.", text)
	}
	if other, ok := e.subnets.first(func(sn *ec2Subnet) bool { return sn.VpcID == v.ID && prefixesOverlap(sn.Cidr, cidr) }); ok {
		return nil, ec2Errorf("InvalidSubnet.Conflict", "The CIDR '%s' conflicts with another subnet (%s).", text, other.ID)
	}
	if err := c.dryRun(); err != nil {
		return nil, err
	}
	sn := &ec2Subnet{meta: newMeta(ec2ID("subnet"), c.region.Name, time.Now().UTC()), addrBlock: newAddrBlock(cidr.Masked()), VpcID: v.ID, Zone: zone}
	if err := withTags(&sn.meta, specs["subnet"]); err != nil {
		return nil, err
	}
	e.subnets.put(sn)
	view := s.ec2SubnetView(sn)
	view.name = "subnet"
	return []xnode{view}, nil
}

func (s *Server) ec2DeleteSubnet(c *ec2Call) ([]xnode, error) {
	return remove(s, c, "SubnetId", func(e *ec2State) *table[*ec2Subnet] { return e.subnets }, nil)
}

// remove is the body of the EC2 Delete actions over a table: the resource
// of param in the region, unless something depends on it; also runs under
// the lock just before the removal.
func remove[T record](s *Server, c *ec2Call, param string, of func(*ec2State) *table[T], also func(T)) ([]xnode, error) {
	id, err := c.p.ec2Required(param)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := of(s.st.ec2)
	v, err := t.find(c.region.Name, id)
	if err != nil {
		return nil, err
	}
	if err := t.deletable(v); err != nil {
		return nil, err
	}
	if err := c.dryRun(); err != nil {
		return nil, err
	}
	if also != nil {
		also(v)
	}
	t.remove(v)
	return []xnode{leaf("return", true)}, nil
}

func (s *Server) ec2DescribeSubnets(c *ec2Call) ([]xnode, error) {
	return describe(s, c, describeSpec[*ec2Subnet]{
		table: func(e *ec2State) *table[*ec2Subnet] { return e.subnets }, idParam: "SubnetId", idPrefix: "subnet", malformed: "InvalidSubnetID.Malformed",
		set: "subnetSet", view: s.ec2SubnetView, paged: true, maxResults: 1000,
		fields: fields[*ec2Subnet]{
			"subnet-id": func(sn *ec2Subnet) []string { return one(sn.ID) }, "vpc-id": func(sn *ec2Subnet) []string { return one(sn.VpcID) },
			"availability-zone":       func(sn *ec2Subnet) []string { return one(sn.Zone) },
			"availability-zone-id":    func(sn *ec2Subnet) []string { return one(findEC2Region(sn.RegionID).zoneID(sn.Zone)) },
			"default-for-az":          func(sn *ec2Subnet) []string { return one(strconv.FormatBool(sn.DefaultForAz)) },
			"defaultForAz":            func(sn *ec2Subnet) []string { return one(strconv.FormatBool(sn.DefaultForAz)) },
			"cidr-block":              func(sn *ec2Subnet) []string { return one(sn.Cidr.String()) },
			"state":                   func(*ec2Subnet) []string { return one("available") },
			"map-public-ip-on-launch": func(sn *ec2Subnet) []string { return one(strconv.FormatBool(sn.MapPublicIP)) },
			"owner-id":                func(*ec2Subnet) []string { return one(s.st.ec2.account) },
		},
	})
}

// Security groups.

func (s *Server) ec2CreateSecurityGroup(c *ec2Call) ([]xnode, error) {
	name, err := c.p.ec2Required("GroupName")
	if err != nil {
		return nil, err
	}
	desc, err := c.p.ec2Required("GroupDescription")
	if err != nil {
		return nil, err
	}
	if len(name) > 255 || len(desc) > 255 {
		return nil, ec2Invalid("Security group names and descriptions are at most 255 characters.")
	}
	if strings.HasPrefix(strings.ToLower(name), "sg-") {
		return nil, ec2Invalid("Group names may not be in the format sg-*.")
	}
	if name == "default" {
		return nil, ec2Error("InvalidGroup.Reserved", "The security group 'default' is reserved")
	}
	specs, err := tagSpecs(c.p, "security-group")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.st.ec2
	vpcID := c.p.get("VpcId")
	if vpcID == "" {
		v := e.defaultVpc(c.region.Name)
		if v == nil {
			return nil, ec2Error("VPCIdNotSpecified", "No default VPC for this user")
		}
		vpcID = v.ID
	}
	if _, err := e.vpcs.find(c.region.Name, vpcID); err != nil {
		return nil, err
	}
	if _, dup := e.groups.first(func(g *ec2Group) bool { return g.VpcID == vpcID && g.Name == name }); dup {
		return nil, ec2Errorf("InvalidGroup.Duplicate", "The security group '%s' already exists for VPC '%s'", name, vpcID)
	}
	if err := c.dryRun(); err != nil {
		return nil, err
	}
	g := &ec2Group{meta: newMeta(ec2ID("sg"), c.region.Name, time.Now().UTC()), Name: name, Description: desc, VpcID: vpcID}
	g.Egress = []*ec2Rule{{ID: ec2ID("sgr"), Protocol: "-1", From: -1, To: -1, Cidr: "0.0.0.0/0"}}
	if err := withTags(&g.meta, specs["security-group"]); err != nil {
		return nil, err
	}
	e.groups.put(g)
	return []xnode{leaf("return", true), leaf("groupId", g.ID), leaf("securityGroupArn", s.ec2Arn(c.region.Name, "security-group", g.ID)), tagSet(g.Tags)}, nil
}

func (s *Server) ec2Arn(region, kind, id string) string {
	return "arn:aws:ec2:" + region + ":" + s.st.ec2.account + ":" + kind + "/" + id
}

// groupCall finds the group of GroupId, or of GroupName in the default VPC.
// The caller holds s.mu.
func (s *Server) groupCall(c *ec2Call) (*ec2Group, error) {
	e := s.st.ec2
	if id := c.p.get("GroupId"); id != "" {
		if !strings.HasPrefix(id, "sg-") {
			return nil, ec2Errorf("InvalidGroupId.Malformed", "Invalid id: \"%s\" (expecting \"sg-...\")", id)
		}
		return e.groups.find(c.region.Name, id)
	}
	name := c.p.get("GroupName")
	if name == "" {
		return nil, ec2Missing("GroupId")
	}
	def := e.defaultVpc(c.region.Name)
	g, ok := e.groups.first(func(g *ec2Group) bool {
		return g.RegionID == c.region.Name && g.Name == name && def != nil && g.VpcID == def.ID
	})
	if !ok {
		return nil, ec2Errorf("InvalidGroup.NotFound", "The security group '%s' does not exist in default VPC '%s'", name, def.ID)
	}
	return g, nil
}

func (s *Server) ec2DeleteSecurityGroup(c *ec2Call) ([]xnode, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.groupCall(c)
	if err != nil {
		return nil, err
	}
	if err := s.st.ec2.groups.deletable(g); err != nil {
		return nil, err
	}
	if err := c.dryRun(); err != nil {
		return nil, err
	}
	s.st.ec2.groups.remove(g)
	return []xnode{leaf("return", true), leaf("groupId", g.ID)}, nil
}

// ruleView renders rules as IpPermissions: one entry per protocol and port
// range, its sources grouped, as EC2 shows them.
func ruleViews(account string, rules []*ec2Rule) []xnode {
	type key struct {
		proto    string
		from, to int
	}
	var order []key
	grouped := map[key][]*ec2Rule{}
	for _, r := range rules {
		k := key{r.Protocol, r.From, r.To}
		if _, ok := grouped[k]; !ok {
			order = append(order, k)
		}
		grouped[k] = append(grouped[k], r)
	}
	var out []xnode
	for _, k := range order {
		var v4, v6, groups []xnode
		for _, r := range grouped[k] {
			switch {
			case r.Cidr != "":
				v4 = append(v4, item(append([]xnode{leaf("cidrIp", r.Cidr)}, optional("description", r.Description)...)...))
			case r.CidrV6 != "":
				v6 = append(v6, item(append([]xnode{leaf("cidrIpv6", r.CidrV6)}, optional("description", r.Description)...)...))
			case r.Group != "":
				groups = append(groups, item(append([]xnode{leaf("userId", account), leaf("groupId", r.Group)}, optional("description", r.Description)...)...))
			}
		}
		perm := []xnode{leaf("ipProtocol", k.proto)}
		if k.proto != "-1" {
			perm = append(perm, leaf("fromPort", k.from), leaf("toPort", k.to))
		}
		perm = append(perm, set("groups", groups), set("ipRanges", v4), set("ipv6Ranges", v6), set("prefixListIds", nil))
		out = append(out, item(perm...))
	}
	return out
}

func (s *Server) ec2GroupView(g *ec2Group) xnode {
	return item(
		leaf("ownerId", s.st.ec2.account), leaf("groupId", g.ID), leaf("groupName", g.Name), leaf("groupDescription", g.Description),
		set("ipPermissions", ruleViews(s.st.ec2.account, g.Ingress)), set("ipPermissionsEgress", ruleViews(s.st.ec2.account, g.Egress)),
		leaf("vpcId", g.VpcID), leaf("securityGroupArn", s.ec2Arn(g.RegionID, "security-group", g.ID)), tagSet(g.Tags),
	)
}

func (s *Server) ec2DescribeSecurityGroups(c *ec2Call) ([]xnode, error) {
	names := c.p.list("GroupName")
	var defVpc string
	return describe(s, c, describeSpec[*ec2Group]{
		table: func(e *ec2State) *table[*ec2Group] { return e.groups }, idParam: "GroupId", idPrefix: "sg", malformed: "InvalidGroupId.Malformed",
		set: "securityGroupInfo", view: s.ec2GroupView, paged: true, maxResults: 1000,
		fields: fields[*ec2Group]{
			"group-id": func(g *ec2Group) []string { return one(g.ID) }, "group-name": func(g *ec2Group) []string { return one(g.Name) },
			"vpc-id": func(g *ec2Group) []string { return one(g.VpcID) }, "description": func(g *ec2Group) []string { return one(g.Description) },
			"owner-id": func(*ec2Group) []string { return one(s.st.ec2.account) },
		},
		// GroupName.N names groups of the default VPC; each must exist.
		check: func(e *ec2State) error {
			defVpc = e.defaultVpc(c.region.Name).ID
			for _, n := range names {
				if _, ok := e.groups.first(func(g *ec2Group) bool { return g.RegionID == c.region.Name && g.Name == n && g.VpcID == defVpc }); !ok {
					return ec2Errorf("InvalidGroup.NotFound", "The security group '%s' does not exist in default VPC '%s'", n, defVpc)
				}
			}
			return nil
		},
		also: func(g *ec2Group) bool { return len(names) == 0 || (containsStr(names, g.Name) && g.VpcID == defVpc) },
	})
}

// rulesParam reads IpPermissions.N (or the legacy top-level CidrIp form)
// into one rule per source.
func rulesParam(c *ec2Call) ([]*ec2Rule, error) {
	perms := c.p.each("IpPermissions")
	if len(perms) == 0 && c.p.has("IpProtocol") {
		legacy := params{"IpProtocol": c.p.get("IpProtocol"), "FromPort": c.p.get("FromPort"), "ToPort": c.p.get("ToPort")}
		if cidr := c.p.get("CidrIp"); cidr != "" {
			legacy["IpRanges.1.CidrIp"] = cidr
		}
		perms = []params{legacy}
	}
	if len(perms) == 0 {
		return nil, ec2Missing("IpPermissions")
	}
	var out []*ec2Rule
	for _, p := range perms {
		proto := strings.ToLower(p.get("IpProtocol"))
		switch proto {
		case "tcp", "6":
			proto = "tcp"
		case "udp", "17":
			proto = "udp"
		case "icmp", "1":
			proto = "icmp"
		case "-1", "all":
			proto = "-1"
		case "":
			return nil, ec2Missing("IpPermissions.N.IpProtocol")
		default:
			return nil, ec2Invalid("Invalid value '%s' for IP protocol. Unknown protocol.", p.get("IpProtocol"))
		}
		from, err := p.ec2Int("FromPort", -1)
		if err != nil {
			return nil, err
		}
		to, err := p.ec2Int("ToPort", -1)
		if err != nil {
			return nil, err
		}
		if proto == "-1" {
			from, to = -1, -1
		}
		if (proto == "tcp" || proto == "udp") && (from < 0 || to > 65535 || from > to) {
			return nil, ec2Invalid("Invalid port range %d-%d for %s: use 0-65535 with FromPort <= ToPort.", from, to, proto)
		}
		base := ec2Rule{Protocol: proto, From: from, To: to}
		n := len(out)
		for _, r := range p.each("IpRanges") {
			cidr := r.get("CidrIp")
			if pfx, err := netip.ParsePrefix(cidr); err != nil || !pfx.Addr().Is4() {
				return nil, ec2Invalid("CIDR block %s is malformed", cidr)
			}
			rule := base
			rule.Cidr, rule.Description = cidr, r.get("Description")
			out = append(out, &rule)
		}
		for _, r := range p.each("Ipv6Ranges") {
			cidr := r.get("CidrIpv6")
			if pfx, err := netip.ParsePrefix(cidr); err != nil || !pfx.Addr().Is6() {
				return nil, ec2Invalid("CIDR block %s is malformed", cidr)
			}
			rule := base
			rule.CidrV6, rule.Description = cidr, r.get("Description")
			out = append(out, &rule)
		}
		for _, r := range p.each("Groups") {
			rule := base
			rule.Group, rule.Description = r.get("GroupId"), r.get("Description")
			if rule.Group == "" {
				return nil, ec2Missing("IpPermissions.N.Groups.M.GroupId")
			}
			out = append(out, &rule)
		}
		if len(out) == n {
			return nil, ec2Errorf("InvalidParameterValue", "The request must contain a CIDR block, an IPv6 CIDR block or a source security group for each permission.")
		}
	}
	return out, nil
}

func sameEC2Rule(a, b *ec2Rule) bool {
	return a.Protocol == b.Protocol && a.From == b.From && a.To == b.To && a.Cidr == b.Cidr && a.CidrV6 == b.CidrV6 && a.Group == b.Group
}

// ec2RuleAction is Authorize/Revoke of ingress or egress: a rule that exists
// is InvalidPermission.Duplicate, one revoked that does not exist is
// InvalidPermission.NotFound; either way nothing changes.
func (s *Server) ec2RuleAction(ingress, add bool) ec2Handler {
	return func(c *ec2Call) ([]xnode, error) {
		rules, err := rulesParam(c)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		g, err := s.groupCall(c)
		if err != nil {
			return nil, err
		}
		list := &g.Egress
		if ingress {
			list = &g.Ingress
		}
		for _, r := range rules {
			if r.Group != "" {
				if _, err := s.st.ec2.groups.find(c.region.Name, r.Group); err != nil {
					return nil, err
				}
			}
			exists := slices.ContainsFunc(*list, func(have *ec2Rule) bool { return sameEC2Rule(have, r) })
			if add && exists {
				return nil, ec2Errorf("InvalidPermission.Duplicate", "the specified rule \"peer: %s, %s, ALLOW\" already exists", r.source(), r.portText())
			}
			if !add && !exists {
				return nil, ec2Errorf("InvalidPermission.NotFound", "The specified rule does not exist in this security group.")
			}
		}
		if err := c.dryRun(); err != nil {
			return nil, err
		}
		var out []xnode
		for _, r := range rules {
			if add {
				r.ID = ec2ID("sgr")
				*list = append(*list, r)
				out = append(out, item(leaf("securityGroupRuleId", r.ID), leaf("groupId", g.ID), leaf("groupOwnerId", s.st.ec2.account),
					leaf("isEgress", !ingress), leaf("ipProtocol", r.Protocol), leaf("fromPort", r.From), leaf("toPort", r.To)))
				continue
			}
			*list = slices.DeleteFunc(*list, func(have *ec2Rule) bool { return sameEC2Rule(have, r) })
		}
		answer := []xnode{leaf("return", true)}
		if add {
			answer = append(answer, set("securityGroupRuleSet", out))
		}
		return answer, nil
	}
}

func (r *ec2Rule) source() string {
	switch {
	case r.Cidr != "":
		return r.Cidr
	case r.CidrV6 != "":
		return r.CidrV6
	}
	return r.Group
}

func (r *ec2Rule) portText() string {
	if r.Protocol == "-1" {
		return "ALL"
	}
	return strings.ToUpper(r.Protocol) + ", from port: " + strconv.Itoa(r.From) + ", to port: " + strconv.Itoa(r.To)
}
