package cloudsim

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

const maxInstancesPerGroup = 2000

func (s *Server) ecsCreateSecurityGroup(c *callCtx) (obj, error) {
	r, err := c.region()
	if err != nil {
		return nil, err
	}
	name := c.p.get("SecurityGroupName")
	if name != "" && (len(name) < 2 || len(name) > 128 || strings.HasPrefix(name, "http://") || strings.HasPrefix(name, "https://")) {
		return nil, newErrorf("InvalidSecurityGroupName.Malformed", "The specified SecurityGroupName %q is not valid: 2-128 characters, not starting with http:// or https://.", name)
	}
	typ, err := c.p.oneOf("SecurityGroupType", "normal", "normal", "enterprise")
	if err != nil {
		return nil, err
	}
	tags, err := c.p.tagPairs("Tag")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	vpcID := c.p.get("VpcId")
	if vpcID != "" {
		if _, err := s.st.vpcs.find(r.ID, vpcID); err != nil {
			return nil, err
		}
	}
	sg := &securityGroup{
		meta: newMeta(newID("sg", r.ID), r.ID, time.Now().UTC()), Name: name, Description: c.p.get("Description"),
		VpcID: vpcID, Type: typ, ResourceGroupID: c.p.get("ResourceGroupId"),
	}
	sg.Tags = tags
	if sg.ResourceGroupID == "" {
		sg.ResourceGroupID = s.st.defaultResourceGroup
	}
	s.st.securityGroups.put(sg)
	return obj{"SecurityGroupId": sg.ID}, nil
}

// groupMembers counts the instances in a security group.
func (st *state) groupMembers(id string) int {
	return st.instances.count(func(inst *instance) bool { return slices.Contains(inst.SecurityGroupIDs, id) })
}

func (s *Server) ecsDescribeSecurityGroups(c *callCtx) (obj, error) {
	r, number, size, err := c.regionPage(10, 50)
	if err != nil {
		return nil, err
	}
	ids, err := c.p.jsonList("SecurityGroupIds")
	if err != nil {
		return nil, err
	}
	if id := c.p.get("SecurityGroupId"); id != "" {
		ids = append(ids, id)
	}
	filterTags, err := c.p.tagPairs("Tag")
	if err != nil {
		return nil, err
	}
	fuzzy, err := c.p.boolean("FuzzyQuery", false)
	if err != nil {
		return nil, err
	}
	name := c.p.get("SecurityGroupName")
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.st.securityGroups.list(selector{region: r.ID, ids: ids, tags: filterTags}, func(sg *securityGroup) bool {
		return c.p.eq("VpcId", sg.VpcID) && c.p.eq("SecurityGroupType", sg.Type) && c.p.eq("ResourceGroupId", sg.ResourceGroupID) &&
			(name == "" || sg.Name == name || (fuzzy && strings.Contains(sg.Name, name)))
	})
	answer := obj{"RegionId": r.ID, "TotalCount": len(list)}
	return pageOrToken(c, answer, list, number, size, "SecurityGroups", "SecurityGroup", func(sg *securityGroup) obj {
		n := s.st.groupMembers(sg.ID)
		return obj{
			"SecurityGroupId": sg.ID, "SecurityGroupName": sg.Name, "Description": sg.Description,
			"SecurityGroupType": sg.Type, "VpcId": sg.VpcID, "CreationTime": apiTime(sg.Created),
			"EcsCount": n, "AvailableInstanceAmount": maxInstancesPerGroup - n, "RuleCount": len(sg.Rules),
			"ResourceGroupId": sg.ResourceGroupID, "ServiceManaged": false,
			"Tags": obj{"Tag": tagViews(sg.Tags)},
		}
	})
}

func ruleView(rule *sgRule) obj {
	return obj{
		"SecurityGroupRuleId": rule.ID, "Direction": rule.Direction, "IpProtocol": strings.ToUpper(rule.IpProtocol),
		"PortRange": rule.PortRange, "SourceCidrIp": rule.SourceCidrIp, "DestCidrIp": rule.DestCidrIp,
		"SourceGroupId": rule.SourceGroupID, "DestGroupId": rule.DestGroupID, "SourcePortRange": rule.SourcePortRange,
		"Policy": capitalize(rule.Policy), "Priority": rule.Priority, "NicType": rule.NicType,
		"Description": rule.Description, "CreateTime": apiTime(rule.Created),
		"Ipv6SourceCidrIp": "", "Ipv6DestCidrIp": "", "SourceGroupName": "", "DestGroupName": "",
		"SourceGroupOwnerAccount": "", "DestGroupOwnerAccount": "", "SourcePrefixListId": "", "DestPrefixListId": "",
	}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func (s *Server) ecsDescribeSecurityGroupAttribute(c *callCtx) (obj, error) {
	r, args, err := c.regionWith("SecurityGroupId")
	if err != nil {
		return nil, err
	}
	id := args[0]
	dir, err := c.p.oneOf("Direction", "all", "all", "ingress", "egress")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sg, err := s.st.securityGroups.find(r.ID, id)
	if err != nil {
		return nil, err
	}
	perms := []obj{}
	for _, rule := range sg.Rules {
		if dir == "all" || dir == rule.Direction {
			perms = append(perms, ruleView(rule))
		}
	}
	return obj{
		"RegionId": r.ID, "SecurityGroupId": sg.ID, "SecurityGroupName": sg.Name, "Description": sg.Description,
		"VpcId": sg.VpcID, "InnerAccessPolicy": "Accept", "Permissions": obj{"Permission": perms},
	}, nil
}

// ruleFromFields builds a rule from Authorize/Revoke fields (top-level or one
// Permissions.N entry); get reads one field.
func ruleFromFields(direction string, get func(string) string, forRevoke bool) (*sgRule, error) {
	rule := &sgRule{Direction: direction}
	proto := strings.ToLower(get("IpProtocol"))
	if proto == "" {
		return nil, errMissing("IpProtocol")
	}
	if !slices.Contains([]string{"tcp", "udp", "icmp", "gre", "all", "icmpv6"}, proto) {
		return nil, newErrorf("InvalidIpProtocol.Malformed", "The specified IpProtocol %q is not valid: use tcp, udp, icmp, gre or all.", get("IpProtocol"))
	}
	rule.IpProtocol = proto
	pr := get("PortRange")
	if pr == "" {
		if proto == "tcp" || proto == "udp" {
			return nil, errMissing("PortRange")
		}
		pr = "-1/-1"
	}
	if err := checkPortRange(proto, pr); err != nil {
		return nil, err
	}
	rule.PortRange = pr
	rule.SourcePortRange = get("SourcePortRange")
	if direction == "ingress" {
		rule.SourceCidrIp, rule.SourceGroupID = get("SourceCidrIp"), get("SourceGroupId")
		rule.DestCidrIp = get("DestCidrIp")
		if !forRevoke && rule.SourceCidrIp == "" && rule.SourceGroupID == "" && get("SourcePrefixListId") == "" && get("Ipv6SourceCidrIp") == "" {
			return nil, newError("MissingParameter", "One of SourceCidrIp, SourceGroupId or SourcePrefixListId is mandatory for an ingress rule.")
		}
	} else {
		rule.DestCidrIp, rule.DestGroupID = get("DestCidrIp"), get("DestGroupId")
		rule.SourceCidrIp = get("SourceCidrIp")
		if !forRevoke && rule.DestCidrIp == "" && rule.DestGroupID == "" && get("DestPrefixListId") == "" && get("Ipv6DestCidrIp") == "" {
			return nil, newError("MissingParameter", "One of DestCidrIp, DestGroupId or DestPrefixListId is mandatory for an egress rule.")
		}
	}
	for name, cidr := range map[string]string{"SourceCidrIp": rule.SourceCidrIp, "DestCidrIp": rule.DestCidrIp} {
		if cidr == "" {
			continue
		}
		if _, err := netip.ParsePrefix(cidr); err != nil {
			if _, err := netip.ParseAddr(cidr); err != nil {
				return nil, newErrorf("InvalidParam.CidrIp", "The specified %s %q is not a valid IPv4 address or CIDR block.", name, cidr)
			}
		}
	}
	policy := strings.ToLower(get("Policy"))
	if policy == "" {
		policy = "accept"
	}
	if policy != "accept" && policy != "drop" {
		return nil, newErrorf("InvalidPolicy.Malformed", "The specified Policy %q is not valid: use accept or drop.", get("Policy"))
	}
	rule.Policy = policy
	prio := get("Priority")
	if prio == "" {
		prio = "1"
	}
	if n, err := strconv.Atoi(prio); err != nil || n < 1 || n > 100 {
		return nil, newErrorf("InvalidPriority.Malformed", "The specified Priority %q is not valid: use 1 to 100.", prio)
	}
	rule.Priority = prio
	nic := strings.ToLower(get("NicType"))
	if nic == "" {
		nic = "intranet"
	}
	if nic != "intranet" && nic != "internet" {
		return nil, newErrorf("InvalidNicType.ValueNotSupported", "The specified NicType %q is not valid: use internet or intranet.", get("NicType"))
	}
	rule.NicType = nic
	rule.Description = get("Description")
	return rule, nil
}

func checkPortRange(proto, pr string) error {
	lo, hi, ok := strings.Cut(pr, "/")
	a, errA := strconv.Atoi(lo)
	b, errB := strconv.Atoi(hi)
	if !ok || errA != nil || errB != nil {
		return newErrorf("InvalidPortRange.Malformed", "The specified PortRange %q is not valid: use start/end, such as 22/22.", pr)
	}
	if proto == "tcp" || proto == "udp" {
		if a < 1 || b > 65535 || a > b {
			return newErrorf("InvalidPortRange.Malformed", "The specified PortRange %q is not valid for %s: ports 1-65535, start <= end.", pr, proto)
		}
		return nil
	}
	if a != -1 || b != -1 {
		return newErrorf("InvalidPortRange.Malformed", "The specified PortRange %q is not valid for %s: use -1/-1.", pr, proto)
	}
	return nil
}

// sameRule compares the fields that identify a rule.
func sameRule(a, b *sgRule) bool {
	return a.Direction == b.Direction && a.IpProtocol == b.IpProtocol && a.PortRange == b.PortRange &&
		a.SourceCidrIp == b.SourceCidrIp && a.DestCidrIp == b.DestCidrIp && a.SourceGroupID == b.SourceGroupID &&
		a.DestGroupID == b.DestGroupID && a.Policy == b.Policy && a.NicType == b.NicType && a.SourcePortRange == b.SourcePortRange
}

// sgRuleAction implements Authorize/Revoke for one direction. Authorizing a
// rule that exists and revoking one that does not both succeed without change,
// as the service does.
func (s *Server) sgRuleAction(direction string, add bool) handler {
	return func(c *callCtx) (obj, error) {
		r, args, err := c.regionWith("SecurityGroupId")
		if err != nil {
			return nil, err
		}
		id := args[0]
		var rules []*sgRule
		if perms := c.p.structs("Permissions"); len(perms) > 0 {
			for _, m := range perms {
				rule, err := ruleFromFields(direction, func(k string) string { return m[k] }, !add)
				if err != nil {
					return nil, err
				}
				rules = append(rules, rule)
			}
		}
		ruleIDs := c.p.list("SecurityGroupRuleId")
		if len(rules) == 0 && (add || len(ruleIDs) == 0) {
			rule, err := ruleFromFields(direction, c.p.get, !add)
			if err != nil {
				return nil, err
			}
			rules = append(rules, rule)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		sg, err := s.st.securityGroups.find(r.ID, id)
		if err != nil {
			return nil, err
		}
		for _, rule := range rules {
			for _, ref := range []string{rule.SourceGroupID, rule.DestGroupID} {
				if ref != "" && add {
					if _, err := s.st.securityGroups.find(r.ID, ref); err != nil {
						return nil, err
					}
				}
			}
		}
		now := time.Now().UTC()
		if add {
			for _, rule := range rules {
				if slices.ContainsFunc(sg.Rules, func(have *sgRule) bool { return sameRule(have, rule) }) {
					continue
				}
				rule.ID = newID("sgr", r.ID)
				rule.Created = now
				sg.Rules = append(sg.Rules, rule)
			}
			return obj{}, nil
		}
		sg.Rules = slices.DeleteFunc(sg.Rules, func(have *sgRule) bool {
			if have.Direction != direction {
				return false
			}
			if slices.Contains(ruleIDs, have.ID) {
				return true
			}
			return slices.ContainsFunc(rules, func(rule *sgRule) bool { return sameRule(have, rule) })
		})
		return obj{}, nil
	}
}

func (s *Server) ecsDeleteSecurityGroup(c *callCtx) (obj, error) {
	r, args, err := c.regionWith("SecurityGroupId")
	if err != nil {
		return nil, err
	}
	id := args[0]
	s.mu.Lock()
	defer s.mu.Unlock()
	sg := s.st.securityGroups.at(id)
	if sg == nil || sg.RegionID != r.ID {
		return nil, newErrorf("InvalidSecurityGroup.NotFound", "The specified security group %q is not found.", id)
	}
	return obj{}, s.st.securityGroups.removeChecked(sg)
}
