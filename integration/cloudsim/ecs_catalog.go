package cloudsim

import (
	"slices"
	"strings"
)

// ecsActions is the ECS (2014-05-26) action table.
func (s *Server) ecsActions() map[string]handler {
	return map[string]handler{
		"DescribeRegions":       s.ecsDescribeRegions,
		"DescribeZones":         s.ecsDescribeZones,
		"DescribeImages":        s.ecsDescribeImages,
		"DescribeInstanceTypes": s.ecsDescribeInstanceTypes,

		"ImportKeyPair":                  s.ecsImportKeyPair,
		"CreateKeyPair":                  s.ecsCreateKeyPair,
		"DescribeKeyPairs":               s.ecsDescribeKeyPairs,
		"DeleteKeyPairs":                 s.ecsDeleteKeyPairs,
		"CreateSecurityGroup":            s.ecsCreateSecurityGroup,
		"DescribeSecurityGroups":         s.ecsDescribeSecurityGroups,
		"DescribeSecurityGroupAttribute": s.ecsDescribeSecurityGroupAttribute,
		"AuthorizeSecurityGroup":         s.sgRuleAction("ingress", true),
		"AuthorizeSecurityGroupEgress":   s.sgRuleAction("egress", true),
		"RevokeSecurityGroup":            s.sgRuleAction("ingress", false),
		"RevokeSecurityGroupEgress":      s.sgRuleAction("egress", false),
		"DeleteSecurityGroup":            s.ecsDeleteSecurityGroup,

		"RunInstances":              s.ecsRunInstances,
		"CreateInstance":            s.ecsCreateInstance,
		"StartInstance":             s.ecsStartInstance,
		"StopInstance":              s.ecsStopInstance,
		"RebootInstance":            s.ecsRebootInstance,
		"DeleteInstance":            s.ecsDeleteInstance,
		"DescribeInstances":         s.ecsDescribeInstances,
		"DescribeInstanceAttribute": s.ecsDescribeInstanceAttribute,
		"DescribeInstanceStatus":    s.ecsDescribeInstanceStatus,
		"ModifyInstanceAttribute":   s.ecsModifyInstanceAttribute,
		"DescribeUserData":          s.ecsDescribeUserData,

		"AllocatePublicIpAddress": s.ecsAllocatePublicIpAddress,
		"AllocateEipAddress":      s.ecsAllocateEipAddress,
		"AssociateEipAddress":     s.eipAssociate,
		"UnassociateEipAddress":   s.eipUnassociate,
		"ReleaseEipAddress":       s.eipRelease,
		"DescribeEipAddresses":    s.ecsDescribeEipAddresses,

		// The VPC actions ECS still serves (older SDKs call them here).
		"CreateVpc":           s.vpcCreateVpc,
		"DeleteVpc":           s.vpcDeleteVpc,
		"DescribeVpcs":        s.ecsDescribeVpcs,
		"CreateVSwitch":       s.vpcCreateVSwitch,
		"DeleteVSwitch":       s.vpcDeleteVSwitch,
		"DescribeVSwitches":   s.ecsDescribeVSwitches,
		"CreateRouteEntry":    s.vpcCreateRouteEntry,
		"DeleteRouteEntry":    s.vpcDeleteRouteEntry,
		"DescribeRouteTables": s.ecsDescribeRouteTables,
		"DescribeVRouters":    s.describeVRouters,

		"TagResources":     s.tagResources,
		"UntagResources":   s.untagResources,
		"ListTagResources": s.listTagResources,
		"AddTags":          s.ecsAddTags,
		"RemoveTags":       s.ecsRemoveTags,
		"DescribeTags":     s.ecsDescribeTags,
	}
}

// regionEndpoint is the host a region's API answers on. The simulator names
// itself, so a client that follows RegionEndpoint stays on loopback.
func (c *callCtx) regionEndpoint() string { return c.host }

func (s *Server) ecsDescribeRegions(c *callCtx) (obj, error) {
	out := []obj{}
	for _, r := range regions {
		out = append(out, obj{"RegionId": r.ID, "LocalName": r.LocalName, "RegionEndpoint": c.regionEndpoint(), "Status": "available"})
	}
	return obj{"Regions": obj{"Region": out}}, nil
}

func instanceTypeIDs() []string {
	out := make([]string, len(instanceTypes))
	for i, t := range instanceTypes {
		out[i] = t.ID
	}
	return out
}

func (s *Server) ecsDescribeZones(c *callCtx) (obj, error) {
	r, err := c.region()
	if err != nil {
		return nil, err
	}
	out := []obj{}
	for _, z := range r.Zones {
		out = append(out, obj{
			"ZoneId": z.ID, "LocalName": z.LocalName, "ZoneType": "AvailabilityZone",
			"AvailableResourceCreation": obj{"ResourceTypes": []string{"Instance", "Disk", "VSwitch", "IoOptimized"}},
			"AvailableDiskCategories":   obj{"DiskCategories": diskCategories},
			"AvailableVolumeCategories": obj{"VolumeCategories": []string{}},
			"AvailableInstanceTypes":    obj{"InstanceTypes": instanceTypeIDs()},
			"NetworkTypes":              obj{"NetworkType": []string{"vpc"}},
			"AvailableResources": obj{"ResourcesInfo": []obj{{
				"IoOptimized":          true,
				"SystemDiskCategories": obj{"supportedSystemDiskCategory": diskCategories},
				"DataDiskCategories":   obj{"supportedDataDiskCategory": diskCategories},
				"InstanceTypes":        obj{"supportedInstanceType": instanceTypeIDs()},
				"NetworkTypes":         obj{"supportedNetworkCategory": []string{"vpc"}},
			}}},
		})
	}
	return obj{"Zones": obj{"Zone": out}}, nil
}

func imageView(img *imageInfo) obj {
	return obj{
		"ImageId": img.ID, "ImageName": img.Name, "ImageOwnerAlias": "system", "OSName": img.OSName,
		"OSNameEn": img.OSNameEn, "OSType": "linux", "Platform": img.Platform, "Architecture": "x86_64",
		"Description": img.Description, "Size": img.Size, "Status": "Available", "IsPublic": true,
		"IsSupportIoOptimized": true, "IsSupportCloudinit": true, "Usage": "instance", "Progress": "100%",
		"CreationTime": img.CreationTime, "ImageFamily": img.ImageFamily, "ImageVersion": img.ImageVersion,
		"BootMode": "BIOS", "IsSubscribed": false, "IsCopied": false, "IsSelfShared": "",
		"DiskDeviceMappings": obj{"DiskDeviceMapping": []obj{{"Device": "/dev/xvda", "Size": "20", "Type": "system"}}},
		"Tags":               obj{"Tag": []tagView{}},
	}
}

func (s *Server) ecsDescribeImages(c *callCtx) (obj, error) {
	r, number, size, err := c.regionPage(10, 100)
	if err != nil {
		return nil, err
	}
	ids, err := c.p.idList("ImageId")
	if err != nil {
		return nil, err
	}
	owner, err := c.p.oneOf("ImageOwnerAlias", "", "system", "self", "others", "marketplace")
	if err != nil {
		return nil, err
	}
	name := c.p.get("ImageName")
	status := c.p.get("Status")
	var out []obj
	for i := range images {
		img := &images[i]
		if len(ids) > 0 && !slices.Contains(ids, img.ID) {
			continue
		}
		if owner != "" && owner != "system" {
			continue
		}
		if name != "" && !matchImageName(name, img.Name) {
			continue
		}
		if t := c.p.get("OSType"); t != "" && !strings.EqualFold(t, "linux") {
			continue
		}
		if a := c.p.get("Architecture"); a != "" && a != "x86_64" {
			continue
		}
		if status != "" && !slices.Contains(strings.Split(status, ","), "Available") {
			continue
		}
		if f := c.p.get("ImageFamily"); f != "" && f != img.ImageFamily {
			continue
		}
		out = append(out, imageView(img))
	}
	return obj{
		"RegionId": r.ID, "TotalCount": len(out), "PageNumber": number, "PageSize": size,
		"Images": obj{"Image": page(nonNil(out), number, size)},
	}, nil
}

// matchImageName is DescribeImages' name filter: '*' wildcards, otherwise a
// fuzzy (substring) match, as the service documents.
func matchImageName(pattern, name string) bool {
	if strings.Contains(pattern, "*") {
		return matchName(pattern, name)
	}
	return strings.Contains(name, pattern)
}

func (s *Server) ecsDescribeInstanceTypes(c *callCtx) (obj, error) {
	want := c.p.list("InstanceTypes")
	family := c.p.get("InstanceTypeFamily")
	out := []obj{}
	for _, t := range instanceTypes {
		if len(want) > 0 && !slices.Contains(want, t.ID) {
			continue
		}
		if family != "" && family != t.Family {
			continue
		}
		out = append(out, obj{
			"InstanceTypeId": t.ID, "InstanceTypeFamily": t.Family, "CpuCoreCount": t.CPU, "MemorySize": t.MemoryGiB,
			"InstanceFamilyLevel": "EnterpriseLevel", "CpuArchitecture": "X86", "Generation": t.Generation,
			"EniQuantity": 2, "EniPrivateIpAddressQuantity": 6, "LocalStorageCategory": "",
			"InstanceBandwidthRx": 1024000, "InstanceBandwidthTx": 1024000, "InstancePpsRx": 300000, "InstancePpsTx": 300000,
			"DiskQuantity": 17, "NvmeSupport": "unsupported", "InstanceCategory": "General-purpose",
		})
	}
	return obj{"InstanceTypes": obj{"InstanceType": out}, "NextToken": ""}, nil
}

// nonNil turns a nil slice into an empty one so it encodes as [].
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
