package cloudsim

import (
	"slices"
	"strconv"
)

// publicIPs lists an instance's public address (not the EIP, which has its
// own field), as PublicIpAddress.IpAddress.
func (inst *instance) publicIPs() []string {
	if inst.PublicIP == "" {
		return []string{}
	}
	return []string{inst.PublicIP}
}

func (s *Server) eipView(inst *instance) obj {
	v := obj{"AllocationId": "", "IpAddress": "", "Bandwidth": 0, "InternetChargeType": ""}
	if e := s.st.eips.at(inst.EIPID); e != nil {
		bw, _ := strconv.Atoi(e.Bandwidth)
		v = obj{"AllocationId": e.ID, "IpAddress": e.IP, "Bandwidth": bw, "InternetChargeType": e.InternetChargeType}
	}
	return v
}

func memoryMiB(inst *instance) int {
	if t := findInstanceType(inst.InstanceType); t != nil {
		return int(t.MemoryGiB * 1024)
	}
	return 0
}

func cpuOf(inst *instance) int {
	if t := findInstanceType(inst.InstanceType); t != nil {
		return t.CPU
	}
	return 0
}

// instanceView is one entry of DescribeInstances.
func (s *Server) instanceView(inst *instance) obj {
	img := findImage(inst.ImageID)
	osName, osNameEn := "", ""
	if img != nil {
		osName, osNameEn = img.OSName, img.OSNameEn
	}
	family := ""
	if t := findInstanceType(inst.InstanceType); t != nil {
		family = t.Family
	}
	eipv := s.eipView(inst)
	eipv["IsSupportUnassociate"] = true
	stopped := "Not-applicable"
	if inst.Status == statusStopped {
		stopped = "KeepCharging"
	}
	started := ""
	if !inst.Started.IsZero() {
		started = apiMinute(inst.Started)
	}
	return obj{
		"InstanceId": inst.ID, "InstanceName": inst.Name, "HostName": inst.HostName, "Hostname": inst.HostName,
		"Description": inst.Description, "ImageId": inst.ImageID, "InstanceType": inst.InstanceType,
		"InstanceTypeFamily": family, "Cpu": cpuOf(inst), "CPU": cpuOf(inst), "Memory": memoryMiB(inst),
		"RegionId": inst.RegionID, "ZoneId": inst.ZoneID, "Status": inst.Status,
		"CreationTime": apiMinute(inst.Created), "StartTime": started, "ExpiredTime": "2099-12-31T15:59Z",
		"InstanceNetworkType": "vpc", "NetworkType": "vpc", "InstanceChargeType": inst.InstanceChargeType,
		"InternetChargeType": inst.InternetChargeType, "InternetMaxBandwidthOut": inst.BandwidthOut,
		"InternetMaxBandwidthIn": inst.BandwidthIn, "IoOptimized": true, "KeyPairName": inst.KeyPairName,
		"OSName": osName, "OSNameEn": osNameEn, "OSType": "linux", "OsType": "linux",
		"SerialNumber": inst.ID, "ResourceGroupId": inst.ResourceGroupID, "DeletionProtection": inst.DeletionProtection,
		"StoppedMode": stopped, "DeviceAvailable": true, "Recyclable": false, "GPUAmount": 0, "GPUSpec": "",
		"SpotStrategy": "NoSpot", "SpotPriceLimit": 0, "SpotDuration": 0, "CreditSpecification": "",
		"DeploymentSetId": "", "VlanId": "", "ClusterId": "", "HpcClusterId": "", "SaleCycle": "",
		"SecurityGroupIds": obj{"SecurityGroupId": slices.Clone(inst.SecurityGroupIDs)},
		"InnerIpAddress":   obj{"IpAddress": []string{}},
		"PublicIpAddress":  obj{"IpAddress": inst.publicIPs()},
		"RdmaIpAddress":    obj{"IpAddress": []string{}},
		"VpcAttributes": obj{
			"VpcId": inst.VpcID, "VSwitchId": inst.VSwitchID, "NatIpAddress": "",
			"PrivateIpAddress": obj{"IpAddress": []string{inst.PrivateIP}},
		},
		"EipAddress":     eipv,
		"OperationLocks": obj{"LockReason": []obj{}},
		"Tags":           obj{"Tag": tagViews(inst.Tags)},
		"NetworkInterfaces": obj{"NetworkInterface": []obj{{
			"NetworkInterfaceId": inst.ENIID, "PrimaryIpAddress": inst.PrivateIP, "MacAddress": inst.MAC, "Type": "Primary",
			"PrivateIpSets": obj{"PrivateIpSet": []obj{{"PrivateIpAddress": inst.PrivateIP, "Primary": true}}},
		}}},
		"MetadataOptions": obj{"HttpEndpoint": "enabled", "HttpTokens": "optional", "HttpPutResponseHopLimit": 1},
	}
}

func (s *Server) ecsDescribeInstances(c *callCtx) (obj, error) {
	r, number, size, err := c.regionPage(10, 100)
	if err != nil {
		return nil, err
	}
	ids, err := c.p.jsonList("InstanceIds")
	if err != nil {
		return nil, err
	}
	if len(ids) > 100 {
		return nil, errInvalidf("InstanceIds", "at most 100 IDs")
	}
	privIPs, err := c.p.jsonList("PrivateIpAddresses")
	if err != nil {
		return nil, err
	}
	pubIPs, err := c.p.jsonList("PublicIpAddresses")
	if err != nil {
		return nil, err
	}
	eipIPs, err := c.p.jsonList("EipAddresses")
	if err != nil {
		return nil, err
	}
	filterTags, err := c.p.tagPairs("Tag")
	if err != nil {
		return nil, err
	}
	status := c.p.get("Status")
	if status != "" && !slices.Contains([]string{statusPending, statusStarting, statusRunning, statusStopping, statusStopped}, status) {
		return nil, newErrorf("InvalidStatus.ValueNotSupported", "The specified Status %q is not valid.", status)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	// Newest first, as the service lists them.
	list := s.st.instances.list(selector{region: r.ID, ids: ids, tags: filterTags, order: newestFirst}, func(inst *instance) bool {
		if !matchName(c.p.get("InstanceName"), inst.Name) || (status != "" && status != inst.Status) {
			return false
		}
		if !c.p.eq("VpcId", inst.VpcID) || !c.p.eq("VSwitchId", inst.VSwitchID) || !c.p.eq("ZoneId", inst.ZoneID) ||
			!c.p.eq("ImageId", inst.ImageID) || !c.p.eq("InstanceType", inst.InstanceType) || !c.p.eq("KeyPairName", inst.KeyPairName) ||
			!c.p.eq("ResourceGroupId", inst.ResourceGroupID) || !c.p.eq("InstanceChargeType", inst.InstanceChargeType) ||
			!c.p.eq("InternetChargeType", inst.InternetChargeType) {
			return false
		}
		if n := c.p.get("InstanceNetworkType"); n != "" && n != "vpc" {
			return false
		}
		if g := c.p.get("SecurityGroupId"); g != "" && !slices.Contains(inst.SecurityGroupIDs, g) {
			return false
		}
		if len(privIPs) > 0 && !slices.Contains(privIPs, inst.PrivateIP) {
			return false
		}
		if len(pubIPs) > 0 && (inst.PublicIP == "" || !slices.Contains(pubIPs, inst.PublicIP)) {
			return false
		}
		if len(eipIPs) > 0 {
			e := s.st.eips.at(inst.EIPID)
			if e == nil || !slices.Contains(eipIPs, e.IP) {
				return false
			}
		}
		return true
	})
	// Unlike DescribeSecurityGroups, a paged answer carries an empty NextToken.
	answer := obj{"TotalCount": len(list), "NextToken": ""}
	return pageOrToken(c, answer, list, number, size, "Instances", "Instance", s.instanceView)
}

func (s *Server) ecsDescribeInstanceAttribute(c *callCtx) (obj, error) {
	inst, err := s.instanceCall(c)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	return obj{
		"InstanceId": inst.ID, "InstanceName": inst.Name, "HostName": inst.HostName, "Description": inst.Description,
		"ImageId": inst.ImageID, "InstanceType": inst.InstanceType, "Cpu": cpuOf(inst), "Memory": memoryMiB(inst),
		"RegionId": inst.RegionID, "ZoneId": inst.ZoneID, "Status": inst.Status, "SerialNumber": inst.ID,
		"CreationTime": apiMinute(inst.Created), "ExpiredTime": "2099-12-31T15:59Z", "InstanceNetworkType": "vpc",
		"InstanceChargeType": inst.InstanceChargeType, "InternetChargeType": inst.InternetChargeType,
		"InternetMaxBandwidthOut": inst.BandwidthOut, "InternetMaxBandwidthIn": inst.BandwidthIn,
		"IoOptimized": "optimized", "StoppedMode": "Not-applicable", "VlanId": "", "ClusterId": "", "CreditSpecification": "",
		"SecurityGroupIds": obj{"SecurityGroupId": slices.Clone(inst.SecurityGroupIDs)},
		"PublicIpAddress":  obj{"IpAddress": inst.publicIPs()},
		"InnerIpAddress":   obj{"IpAddress": []string{}},
		"VpcAttributes": obj{
			"VpcId": inst.VpcID, "VSwitchId": inst.VSwitchID, "NatIpAddress": "",
			"PrivateIpAddress": obj{"IpAddress": []string{inst.PrivateIP}},
		},
		"EipAddress":     s.eipView(inst),
		"OperationLocks": obj{"LockReason": []obj{}},
	}, nil
}

func (s *Server) ecsDescribeInstanceStatus(c *callCtx) (obj, error) {
	ids := c.p.list("InstanceId")
	zone := c.p.get("ZoneId")
	filter := func(region string) ([]*instance, error) {
		return s.st.instances.list(selector{region: region, ids: ids, order: byID}, func(inst *instance) bool {
			return zone == "" || zone == inst.ZoneID
		}), nil
	}
	return describePage(s, c, 10, 50, "InstanceStatuses", "InstanceStatus", filter, func(inst *instance) obj {
		return obj{"InstanceId": inst.ID, "Status": inst.Status}
	})
}

func (s *Server) ecsModifyInstanceAttribute(c *callCtx) (obj, error) {
	if n := c.p.get("InstanceName"); n != "" && !validInstanceName(n) {
		return nil, newErrorf("InvalidInstanceName.Malformed", "The specified InstanceName %q is not valid.", n)
	}
	if h := c.p.get("HostName"); h != "" && !hostNamePattern.MatchString(h) {
		return nil, newErrorf("InvalidHostName.Malformed", "The specified HostName %q is not valid.", h)
	}
	if pw := c.p.get("Password"); pw != "" && !validPassword(pw) {
		return nil, newError("InvalidPassword.Malformed", "The specified parameter \"Password\" is not valid.")
	}
	protect, err := c.p.boolean("DeletionProtection", false)
	if err != nil {
		return nil, err
	}
	inst, err := s.instanceCall(c)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	if n := c.p.get("InstanceName"); n != "" {
		inst.Name = n
	}
	if h := c.p.get("HostName"); h != "" {
		inst.HostName = h
	}
	if c.p.has("Description") {
		inst.Description = c.p.get("Description")
	}
	if pw := c.p.get("Password"); pw != "" {
		inst.password = pw
	}
	if c.p.has("DeletionProtection") {
		inst.DeletionProtection = protect
	}
	if groups := c.p.list("SecurityGroupIds"); len(groups) > 0 {
		for _, g := range groups {
			sg, err := s.st.securityGroups.find(inst.RegionID, g)
			if err != nil {
				return nil, err
			}
			if sg.VpcID != "" && sg.VpcID != inst.VpcID {
				return nil, newErrorf("InvalidSecurityGroupId.VPCMismatch", "Security group %s is not in VPC %s of instance %s.", g, inst.VpcID, inst.ID)
			}
		}
		inst.SecurityGroupIDs = groups
	}
	return obj{}, nil
}

func (s *Server) ecsDescribeUserData(c *callCtx) (obj, error) {
	inst, err := s.instanceCall(c)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	return obj{"InstanceId": inst.ID, "RegionId": inst.RegionID, "UserData": inst.UserData}, nil
}
