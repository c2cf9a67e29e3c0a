package cloudsim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// Public addresses. A public IP or EIP is a loopback address from
// 127.100.0.0/16 standing for an Internet address; with Config.PublicPorts set,
// those ports of it are forwarded to the instance's private IP (see
// forwarder), so SSH to the public IP reaches the host like on a real cloud.

// takePublicLocked allocates a public address. With forwarding on, an address
// whose ports another process (another simulator) already holds is skipped.
// The caller holds s.mu.
func (s *Server) takePublicLocked() (string, error) {
	for range 64 {
		ip, err := s.st.publicAddrs.take()
		if err != nil {
			return "", err
		}
		if portsFree(ip, s.cfg.PublicPorts) {
			return ip, nil
		}
	}
	return "", fmt.Errorf("no public address with free ports %v found", s.cfg.PublicPorts)
}

// portsFree tells whether every port can be bound on ip.
func portsFree(ip string, ports []int) bool {
	for _, p := range ports {
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(p)))
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return false
			}
			continue // not ours to judge (e.g. privileged port): the forwarder logs it
		}
		ln.Close()
	}
	return true
}

// exposeLocked starts forwarding public to the instance. The caller holds s.mu.
func (s *Server) exposeLocked(public, instanceID string) {
	if len(s.cfg.PublicPorts) == 0 {
		return
	}
	if _, ok := s.forwarders[public]; ok {
		return
	}
	s.forwarders[public] = startForwarder(s.log, public, s.cfg.PublicPorts, func() string {
		v, _ := s.ips.Load(instanceID)
		ip, _ := v.(string)
		return ip
	})
}

// unexposeLocked stops forwarding public. The caller holds s.mu.
func (s *Server) unexposeLocked(public string) {
	if f := s.forwarders[public]; f != nil {
		f.close()
		delete(s.forwarders, public)
	}
}

func (s *Server) ecsAllocatePublicIpAddress(c *callCtx) (obj, error) {
	inst, err := s.instanceCall(c)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	if inst.Status != statusRunning && inst.Status != statusStopped {
		return nil, incorrectStatus(inst, "Running or Stopped")
	}
	if inst.PublicIP != "" {
		return nil, newErrorf("AllocatedAlready", "Public IP address %s has been allocated to the specified instance.", inst.PublicIP)
	}
	if inst.EIPID != "" {
		return nil, newErrorf("AllocatedAlready", "The specified instance already has an EIP (%s); unassociate it first.", inst.EIPID)
	}
	ip, err := s.takePublicLocked()
	if err != nil {
		return nil, newErrorf("QuotaExceeded.PublicIpAddress", "No public IP address is left: %v", err)
	}
	inst.PublicIP = ip
	s.exposeLocked(ip, inst.ID)
	return obj{"IpAddress": ip}, nil
}

// allocateEip is AllocateEipAddress of both products.
func (s *Server) allocateEip(c *callCtx) (*eip, error) {
	r, err := c.region()
	if err != nil {
		return nil, err
	}
	bw := c.p.get("Bandwidth")
	if bw == "" {
		bw = "5"
	}
	if n, err := strconv.Atoi(bw); err != nil || n < 1 || n > 500 {
		return nil, newErrorf("InvalidParameter.Bandwidth", "The specified parameter Bandwidth %q is not valid: 1 to 500 Mbit/s.", bw)
	}
	ict, err := c.p.oneOf("InternetChargeType", "PayByBandwidth", "PayByBandwidth", "PayByTraffic")
	if err != nil {
		return nil, err
	}
	isp := c.p.get("ISP")
	if isp == "" {
		isp = "BGP"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ip, err := s.takePublicLocked()
	if err != nil {
		return nil, newErrorf("QuotaExceeded.Eip", "No EIP address is left: %v", err)
	}
	e := &eip{
		meta: newMeta(newID("eip", r.ID), r.ID, time.Now().UTC()), IP: ip, Bandwidth: bw, InternetChargeType: ict, ISP: isp,
		Status: "Available", Name: c.p.get("Name"), Description: c.p.get("Description"),
		ResourceGroupID: c.p.get("ResourceGroupId"),
	}
	if e.ResourceGroupID == "" {
		e.ResourceGroupID = s.st.defaultResourceGroup
	}
	s.st.eips.put(e)
	return e, nil
}

func (s *Server) ecsAllocateEipAddress(c *callCtx) (obj, error) {
	e, err := s.allocateEip(c)
	if err != nil {
		return nil, err
	}
	return obj{"AllocationId": e.ID, "EipAddress": e.IP}, nil
}

func (s *Server) vpcAllocateEipAddress(c *callCtx) (obj, error) {
	e, err := s.allocateEip(c)
	if err != nil {
		return nil, err
	}
	return obj{"AllocationId": e.ID, "EipAddress": e.IP, "ResourceGroupId": e.ResourceGroupID, "OrderId": 0}, nil
}

// eipCall reads RegionId and AllocationId; it returns with s.mu held.
func (s *Server) eipCall(c *callCtx) (*eip, error) {
	return regionalCall(s, c, "AllocationId", eipsOf)
}

// settleEip ends a transitional EIP state after network_time.
func (s *Server) settleEip(id, from, to string) {
	d := s.faults.get().NetworkTime.D()
	if d <= 0 {
		return
	}
	s.goBackground(func(ctx context.Context) {
		if sleepCtx(ctx, d) != nil {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if e := s.st.eips.at(id); e != nil && e.Status == from {
			e.Status = to
		}
	})
}

func (s *Server) eipAssociate(c *callCtx) (obj, error) {
	instID, err := c.p.required("InstanceId")
	if err != nil {
		return nil, err
	}
	kind, err := c.p.oneOf("InstanceType", "EcsInstance", "EcsInstance", "SlbInstance", "Nat", "HaVip", "NetworkInterface", "IpAddress")
	if err != nil {
		return nil, err
	}
	if kind != "EcsInstance" {
		return nil, newErrorf("InvalidParameter.InstanceType", "The simulator associates EIPs with ECS instances only, not %s.", kind)
	}
	e, err := s.eipCall(c)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	inst, err := s.st.instances.find(e.RegionID, instID)
	if err != nil {
		return nil, err
	}
	if e.Status != "Available" {
		return nil, newErrorf("IncorrectEipStatus", "The current status of the EIP does not support this operation: %s is %s, it must be Available.", e.ID, e.Status)
	}
	if inst.Status != statusRunning && inst.Status != statusStopped {
		return nil, incorrectStatus(inst, "Running or Stopped")
	}
	if inst.EIPID != "" {
		return nil, newErrorf("InvalidAssociation.Duplicated", "Instance %s already has EIP %s associated.", inst.ID, inst.EIPID)
	}
	if inst.PublicIP != "" {
		return nil, newErrorf("InvalidAssociation.Duplicated", "Instance %s has the fixed public IP %s; an EIP cannot be associated as well.", inst.ID, inst.PublicIP)
	}
	e.InstanceID, e.InstanceType = inst.ID, "EcsInstance"
	inst.EIPID = e.ID
	s.exposeLocked(e.IP, inst.ID)
	e.Status = "InUse"
	if s.faults.get().NetworkTime.D() > 0 {
		e.Status = "Associating"
		s.settleEip(e.ID, "Associating", "InUse")
	}
	return obj{}, nil
}

func (s *Server) eipUnassociate(c *callCtx) (obj, error) {
	instID, err := c.p.required("InstanceId")
	if err != nil {
		return nil, err
	}
	e, err := s.eipCall(c)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	if e.Status != "InUse" {
		return nil, newErrorf("IncorrectEipStatus", "The current status of the EIP does not support this operation: %s is %s, it must be InUse.", e.ID, e.Status)
	}
	if e.InstanceID != instID {
		return nil, newErrorf("InvalidInstanceId.NotFound", "EIP %s is not associated with instance %s.", e.ID, instID)
	}
	if inst := s.st.instances.at(instID); inst != nil {
		inst.EIPID = ""
	}
	s.unexposeLocked(e.IP)
	e.InstanceID, e.InstanceType = "", ""
	e.Status = "Available"
	if s.faults.get().NetworkTime.D() > 0 {
		e.Status = "Unassociating"
		s.settleEip(e.ID, "Unassociating", "Available")
	}
	return obj{}, nil
}

func (s *Server) eipRelease(c *callCtx) (obj, error) {
	e, err := s.eipCall(c)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	if e.Status != "Available" {
		return nil, newErrorf("IncorrectEipStatus", "The current status of the EIP does not support this operation: %s is %s; unassociate it before releasing.", e.ID, e.Status)
	}
	s.st.eips.remove(e)
	s.st.publicAddrs.give(e.IP)
	return obj{}, nil
}

// filterEips applies DescribeEipAddresses' filters; the caller holds s.mu.
func (s *Server) filterEips(c *callCtx, region string) ([]*eip, error) {
	ids, err := c.p.idList("AllocationId")
	if err != nil {
		return nil, err
	}
	addrs, err := c.p.idList("EipAddress")
	if err != nil {
		return nil, err
	}
	filterTags, err := c.p.tagPairs("Tag")
	if err != nil {
		return nil, err
	}
	return s.st.eips.list(selector{region: region, ids: ids, tags: filterTags, order: newestFirst}, func(e *eip) bool {
		return (len(addrs) == 0 || slices.Contains(addrs, e.IP)) && c.p.eq("Status", e.Status) &&
			c.p.eq("AssociatedInstanceId", e.InstanceID) && c.p.eq("AssociatedInstanceType", e.InstanceType) &&
			c.p.eq("EipName", e.Name) && c.p.eq("ResourceGroupId", e.ResourceGroupID)
	}), nil
}

func (s *Server) describeEips(c *callCtx, view func(*eip) obj) (obj, error) {
	return describePage(s, c, 10, 100, "EipAddresses", "EipAddress", func(region string) ([]*eip, error) { return s.filterEips(c, region) }, view)
}

func ecsEipView(e *eip) obj {
	return obj{
		"AllocationId": e.ID, "IpAddress": e.IP, "Status": e.Status, "InstanceId": e.InstanceID, "InstanceType": e.InstanceType,
		"Bandwidth": e.Bandwidth, "EipBandwidth": e.Bandwidth, "InternetChargeType": e.InternetChargeType,
		"ChargeType": "PostPaid", "AllocationTime": apiTime(e.Created), "RegionId": e.RegionID, "ExpiredTime": "",
		"OperationLocks": obj{"LockReason": []obj{}},
	}
}

func (s *Server) ecsDescribeEipAddresses(c *callCtx) (obj, error) {
	return s.describeEips(c, ecsEipView)
}

func (s *Server) vpcDescribeEipAddresses(c *callCtx) (obj, error) {
	return s.describeEips(c, func(e *eip) obj {
		v := ecsEipView(e)
		delete(v, "OperationLocks")
		privateIP, instRegion := "", ""
		if inst := s.st.instances.at(e.InstanceID); inst != nil {
			privateIP, instRegion = inst.PrivateIP, inst.RegionID
		}
		extra := obj{
			"Name": e.Name, "Description": e.Description, "ResourceGroupId": e.ResourceGroupID, "ISP": e.ISP,
			"Netmode": "public", "Mode": "NAT", "PrivateIpAddress": privateIP, "InstanceRegionId": instRegion,
			"BusinessStatus": "Normal", "DeletionProtection": false, "SecondLimited": false, "HDMonitorStatus": "OFF",
			"ServiceManaged": 0, "BandwidthPackageId": "", "BandwidthPackageType": "", "BandwidthPackageBandwidth": "",
			"HasReservationData": "false", "VpcId": "", "Zone": "", "PublicIpAddressPoolId": "", "SegmentInstanceId": "",
			"OperationLocks":          obj{"LockReason": []obj{}},
			"AvailableRegions":        obj{"AvailableRegion": []string{e.RegionID}},
			"SecurityProtectionTypes": obj{"SecurityProtectionType": []string{}},
			"Tags":                    obj{"Tag": tagViews(e.Tags)},
		}
		for k, val := range extra {
			v[k] = val
		}
		return v
	})
}
