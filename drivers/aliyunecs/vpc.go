package aliyunecs

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
)

// vswitches lists VSwitches matching the filters; empty filters are left out.
func (a *api) vswitches(ctx context.Context, vswitchID, vpcID, zone string, onlyDefault bool) ([]vpc.VSwitch, error) {
	var out []vpc.VSwitch
	for page := 1; ; page++ {
		req := vpc.CreateDescribeVSwitchesRequest()
		req.VSwitchId = vswitchID
		req.VpcId = vpcID
		req.ZoneId = zone
		if onlyDefault {
			req.IsDefault = requests.NewBoolean(true)
		}
		req.PageNumber = requests.NewInteger(page)
		req.PageSize = requests.NewInteger(50)
		resp := vpc.CreateDescribeVSwitchesResponse()
		if err := a.call(ctx, &a.vpc.Client, req, resp); err != nil {
			if isNotFound(err) {
				return nil, nil
			}
			return nil, err
		}
		for _, vs := range resp.VSwitches.VSwitch {
			// Filter again: the answer decides where an instance lands.
			if (vswitchID == "" || vs.VSwitchId == vswitchID) && (vpcID == "" || vs.VpcId == vpcID) &&
				(zone == "" || vs.ZoneId == zone) && (!onlyDefault || vs.IsDefault) {
				out = append(out, vs)
			}
		}
		if len(resp.VSwitches.VSwitch) < 50 || page*50 >= resp.TotalCount {
			return out, nil
		}
	}
}

// pickVSwitch prefers an available default VSwitch, then the one with the
// most free addresses.
func pickVSwitch(list []vpc.VSwitch) (vpc.VSwitch, bool) {
	list = slices.DeleteFunc(slices.Clone(list), func(v vpc.VSwitch) bool {
		return v.Status != "" && v.Status != "Available"
	})
	if len(list) == 0 {
		return vpc.VSwitch{}, false
	}
	slices.SortStableFunc(list, func(x, y vpc.VSwitch) int {
		if x.IsDefault != y.IsDefault {
			if x.IsDefault {
				return -1
			}
			return 1
		}
		switch {
		case x.AvailableIpAddressCount > y.AvailableIpAddressCount:
			return -1
		case x.AvailableIpAddressCount < y.AvailableIpAddressCount:
			return 1
		}
		return strings.Compare(x.VSwitchId, y.VSwitchId)
	})
	return list[0], true
}

// routeTableID finds the system route table of the VPC.
func (a *api) routeTableID(ctx context.Context, vpcID string) (string, error) {
	req := vpc.CreateDescribeRouteTableListRequest()
	req.VpcId = vpcID
	req.RouteTableType = "System"
	resp := vpc.CreateDescribeRouteTableListResponse()
	if err := a.call(ctx, &a.vpc.Client, req, resp); err != nil {
		return "", err
	}
	for _, t := range resp.RouterTableList.RouterTableListType {
		if (t.VpcId == "" || t.VpcId == vpcID) && (t.RouteTableType == "" || t.RouteTableType == "System") {
			return t.RouteTableId, nil
		}
	}
	return "", fmt.Errorf("VPC %s has no system route table", vpcID)
}

// routeEntry returns the entry for cidr in the table, or nil.
func (a *api) routeEntry(ctx context.Context, tableID, cidr string) (*vpc.RouteEntry, error) {
	req := vpc.CreateDescribeRouteEntryListRequest()
	req.RouteTableId = tableID
	req.DestinationCidrBlock = cidr
	resp := vpc.CreateDescribeRouteEntryListResponse()
	return lookup(ctx, a, &a.vpc.Client, req, resp, func() []vpc.RouteEntry { return resp.RouteEntrys.RouteEntry },
		func(e *vpc.RouteEntry) bool { return e.DestinationCidrBlock == cidr })
}

// routeNextHop is the instance an entry points at.
func routeNextHop(e *vpc.RouteEntry) string {
	if e.InstanceId != "" {
		return e.InstanceId
	}
	for _, h := range e.NextHops.NextHop {
		if h.NextHopId != "" {
			return h.NextHopId
		}
	}
	return ""
}

// createRouteEntry routes cidr to the instance and waits until the entry
// is Available: a Pending entry blocks other changes to the table.
func (a *api) createRouteEntry(ctx context.Context, tableID, cidr, instanceID, token, name string) error {
	req := vpc.CreateCreateRouteEntryRequest()
	req.RouteTableId = tableID
	req.DestinationCidrBlock = cidr
	req.NextHopType = "Instance"
	req.NextHopId = instanceID
	req.ClientToken = token
	req.RouteEntryName = name
	req.Description = "Docker bridge of docker-machine host " + name
	if err := a.call(ctx, &a.vpc.Client, req, vpc.CreateCreateRouteEntryResponse()); err != nil {
		if errorCode(err) != "InvalidCIDRBlock.Duplicate" {
			return err
		}
		// Ours from an earlier attempt of this call, or someone else's.
		e, lerr := a.routeEntry(ctx, tableID, cidr)
		if lerr != nil {
			return err
		}
		if e == nil || routeNextHop(e) != instanceID {
			return fmt.Errorf("%w; the VPC already routes %s elsewhere: pick another --aliyunecs-route-cidr", err, cidr)
		}
	}
	return a.waitFor(ctx, fmt.Sprintf("route entry %s to be available", cidr), resourceTimeout, func(ctx context.Context) (bool, string, error) {
		e, err := a.routeEntry(ctx, tableID, cidr)
		if err != nil {
			return false, "", err
		}
		if e == nil {
			return false, "not listed", nil
		}
		return e.Status == "" || e.Status == "Available", "status " + e.Status, nil
	})
}

// deleteRouteEntry removes the entry for cidr if it points at the instance,
// and waits until it is gone (the instance cannot be deleted before).
func (a *api) deleteRouteEntry(ctx context.Context, tableID, cidr, instanceID string) error {
	find := func(ctx context.Context) (*vpc.RouteEntry, error) { return a.routeEntry(ctx, tableID, cidr) }
	return waitGone(ctx, a, fmt.Sprintf("route entry %s to be deleted", cidr), resourceTimeout, find, func(ctx context.Context, e *vpc.RouteEntry) (bool, string, error) {
		if instanceID != "" && routeNextHop(e) != instanceID {
			return true, "", nil
		}
		if e.Status == "Deleting" || e.Status == "Pending" {
			return false, "status " + e.Status, nil
		}
		req := vpc.CreateDeleteRouteEntryRequest()
		req.RouteTableId = tableID
		req.DestinationCidrBlock = cidr
		req.NextHopId = routeNextHop(e)
		req.RouteEntryId = e.RouteEntryId
		err := a.call(ctx, &a.vpc.Client, req, vpc.CreateDeleteRouteEntryResponse())
		switch {
		case err == nil:
			return false, "deleting", nil
		case isNotFound(err):
			return true, "", nil
		case errorCode(err) == "IncorrectRouteEntryStatus" || errorCode(err) == "IncorrectStatus.RouteEntry":
			return false, errorCode(err), nil
		}
		return false, "", err
	})
}

// allocateEIP allocates an EIP tagged as this machine's.
func (a *api) allocateEIP(ctx context.Context, bandwidth int, chargeType, resourceGroup, token, name string) (id, ip string, err error) {
	req := vpc.CreateAllocateEipAddressRequest()
	req.Bandwidth = strconv.Itoa(bandwidth)
	req.InternetChargeType = chargeType
	req.ResourceGroupId = resourceGroup
	req.ClientToken = token
	req.Name = name
	req.Description = "docker-machine host " + name
	resp := vpc.CreateAllocateEipAddressResponse()
	if err := a.call(ctx, &a.vpc.Client, req, resp); err != nil {
		return "", "", err
	}
	return resp.AllocationId, resp.EipAddress, nil
}

// tagEIP tags an EIP; AllocateEipAddress takes no tags itself.
func (a *api) tagEIP(ctx context.Context, id string, tags map[string]string) error {
	req := vpc.CreateTagResourcesRequest()
	req.ResourceType = "EIP"
	req.ResourceId = &[]string{id}
	var t []vpc.TagResourcesTag
	for _, k := range sortedKeys(tags) {
		t = append(t, vpc.TagResourcesTag{Key: k, Value: tags[k]})
	}
	req.Tag = &t
	return a.call(ctx, &a.vpc.Client, req, vpc.CreateTagResourcesResponse())
}

// eip returns the EIP by allocation ID, or nil.
func (a *api) eip(ctx context.Context, id string) (*vpc.EipAddress, error) {
	req := vpc.CreateDescribeEipAddressesRequest()
	req.AllocationId = id
	resp := vpc.CreateDescribeEipAddressesResponse()
	return lookup(ctx, a, &a.vpc.Client, req, resp, func() []vpc.EipAddress { return resp.EipAddresses.EipAddress },
		func(e *vpc.EipAddress) bool { return e.AllocationId == id })
}

// eipsOf lists EIPs bound to the instance or tagged with the machine ID.
func (a *api) eipsOf(ctx context.Context, instanceID, machineID string) ([]vpc.EipAddress, error) {
	var out []vpc.EipAddress
	seen := map[string]bool{}
	queries := []func(*vpc.DescribeEipAddressesRequest){}
	if instanceID != "" {
		queries = append(queries, func(r *vpc.DescribeEipAddressesRequest) {
			r.AssociatedInstanceId = instanceID
			r.AssociatedInstanceType = "EcsInstance"
		})
	}
	if machineID != "" {
		queries = append(queries, func(r *vpc.DescribeEipAddressesRequest) {
			r.Tag = &[]vpc.DescribeEipAddressesTag{{Key: tagMachineID, Value: machineID}}
		})
	}
	for _, q := range queries {
		req := vpc.CreateDescribeEipAddressesRequest()
		req.PageSize = requests.NewInteger(pageSize)
		q(req)
		resp := vpc.CreateDescribeEipAddressesResponse()
		if err := a.call(ctx, &a.vpc.Client, req, resp); err != nil {
			return nil, err
		}
		for _, e := range resp.EipAddresses.EipAddress {
			mine := (instanceID != "" && e.InstanceId == instanceID) || (machineID != "" && hasTag(vpcTags(e.Tags.Tag), tagMachineID, machineID))
			if mine && !seen[e.AllocationId] {
				seen[e.AllocationId] = true
				out = append(out, e)
			}
		}
	}
	return out, nil
}

// associateEIP binds the EIP to the instance and waits until it is InUse.
func (a *api) associateEIP(ctx context.Context, id, instanceID, token string) (*vpc.EipAddress, error) {
	req := vpc.CreateAssociateEipAddressRequest()
	req.AllocationId = id
	req.InstanceId = instanceID
	req.InstanceType = "EcsInstance"
	req.ClientToken = token
	if err := a.call(ctx, &a.vpc.Client, req, vpc.CreateAssociateEipAddressResponse()); err != nil {
		if errorCode(err) != "InvalidAssociation.Duplicated" {
			return nil, err
		}
	}
	var last *vpc.EipAddress
	err := a.waitFor(ctx, fmt.Sprintf("EIP %s to be associated", id), resourceTimeout, func(ctx context.Context) (bool, string, error) {
		e, err := a.eip(ctx, id)
		if err != nil {
			return false, "", err
		}
		if e == nil {
			return false, "", fmt.Errorf("EIP %s disappeared", id)
		}
		last = e
		return e.Status == "InUse" && e.InstanceId == instanceID, "status " + e.Status, nil
	})
	return last, err
}

// releaseEIP unbinds the EIP if needed, waits for it to be Available and
// releases it.
func (a *api) releaseEIP(ctx context.Context, id string) error {
	find := func(ctx context.Context) (*vpc.EipAddress, error) { return a.eip(ctx, id) }
	return waitGone(ctx, a, fmt.Sprintf("EIP %s to be released", id), resourceTimeout, find, func(ctx context.Context, e *vpc.EipAddress) (bool, string, error) {
		switch e.Status {
		case "InUse":
			req := vpc.CreateUnassociateEipAddressRequest()
			req.AllocationId = id
			req.InstanceId = e.InstanceId
			req.InstanceType = "EcsInstance"
			err := a.call(ctx, &a.vpc.Client, req, vpc.CreateUnassociateEipAddressResponse())
			if err != nil && !isNotFound(err) && errorCode(err) != "IncorrectEipStatus" {
				return false, "", err
			}
			return false, "unassociating", nil
		case "Available":
			req := vpc.CreateReleaseEipAddressRequest()
			req.AllocationId = id
			err := a.call(ctx, &a.vpc.Client, req, vpc.CreateReleaseEipAddressResponse())
			switch {
			case err == nil, isNotFound(err):
				return true, "", nil
			case errorCode(err) == "IncorrectEipStatus":
				return false, "status " + e.Status, nil
			}
			return false, "", err
		}
		return false, "status " + e.Status, nil
	})
}

// vpcTags flattens VPC tags, spelt like ECS's.
func vpcTags(tags []vpc.Tag) map[string]string {
	out := map[string]string{}
	for _, t := range tags {
		addTag(out, t.TagKey, t.TagValue, t.Key, t.Value)
	}
	return out
}
