package cloudsim

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
)

var (
	// hostNamePattern is a Linux HostName: 2-64 characters of letters,
	// digits, '.' and '-', not starting or ending with '.' or '-'.
	hostNamePattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,62}[A-Za-z0-9])$`)
	// passwordSpecials are the special characters a Password may use.
	passwordSpecials = "()`~!@#$%^&*-_+=|{}[]:;'<>,.?/"
)

// createRequest is a validated RunInstances/CreateInstance request.
type createRequest struct {
	region             *regionInfo
	image              *imageInfo
	itype              *instanceTypeInfo
	name, hostName     string
	description        string
	password           string
	userData           string
	decodedUserData    []byte
	keyPairName        string
	groupIDs           []string
	vswitchID, zoneID  string
	privateIP          string
	bandwidthOut       int
	bandwidthIn        int
	internetChargeType string
	chargeType         string
	systemDisk         disk
	dataDisks          []disk
	tags               []tag
	amount             int
	uniqueSuffix       bool
	resourceGroupID    string
	deletionProtection bool
}

func validInstanceName(name string) bool {
	if len([]rune(name)) < 2 || len([]rune(name)) > 128 || strings.HasPrefix(name, "http://") || strings.HasPrefix(name, "https://") {
		return false
	}
	first := []rune(name)[0]
	if !unicode.IsLetter(first) {
		return false
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune(".:_-", r) {
			return false
		}
	}
	return true
}

func validPassword(pw string) bool {
	if len(pw) < 8 || len(pw) > 30 {
		return false
	}
	var upper, lower, digit, special bool
	for _, r := range pw {
		switch {
		case 'A' <= r && r <= 'Z':
			upper = true
		case 'a' <= r && r <= 'z':
			lower = true
		case '0' <= r && r <= '9':
			digit = true
		case strings.ContainsRune(passwordSpecials, r):
			special = true
		default:
			return false
		}
	}
	kinds := 0
	for _, b := range []bool{upper, lower, digit, special} {
		if b {
			kinds++
		}
	}
	return kinds >= 3
}

// parseCreate validates what needs no state; lookups come later under the lock.
func parseCreate(c *callCtx, legacy bool) (*createRequest, error) {
	r, err := c.region()
	if err != nil {
		return nil, err
	}
	req := &createRequest{region: r}
	imageID, err := c.p.required("ImageId")
	if err != nil {
		return nil, err
	}
	if req.image = findImage(imageID); req.image == nil {
		return nil, newErrorf("InvalidImageId.NotFound", "The specified ImageId %q does not exist.", imageID)
	}
	typeID, err := c.p.required("InstanceType")
	if err != nil {
		return nil, err
	}
	if req.itype = findInstanceType(typeID); req.itype == nil {
		return nil, newErrorf("InvalidInstanceType.ValueNotSupported", "The specified InstanceType %q is not supported; DescribeInstanceTypes lists the supported ones.", typeID)
	}
	req.name = c.p.get("InstanceName")
	if req.name != "" && !validInstanceName(req.name) {
		return nil, newErrorf("InvalidInstanceName.Malformed", "The specified InstanceName %q is not valid: 2-128 characters, starting with a letter; letters, digits, '.', ':', '_' and '-'.", req.name)
	}
	req.hostName = c.p.get("HostName")
	if req.hostName != "" && !hostNamePattern.MatchString(req.hostName) {
		return nil, newErrorf("InvalidHostName.Malformed", "The specified HostName %q is not valid: 2-64 letters, digits, '.' or '-', not starting or ending with '.' or '-'.", req.hostName)
	}
	req.description = c.p.get("Description")
	if pw := c.p.get("Password"); pw != "" {
		if !validPassword(pw) {
			return nil, newError("InvalidPassword.Malformed", "The specified parameter \"Password\" is not valid: 8-30 characters with at least three of upper case, lower case, digits and "+passwordSpecials)
		}
		req.password = pw
	}
	if ud := c.p.get("UserData"); ud != "" {
		if len(ud) > 32*1024 {
			return nil, newError("InvalidUserData.SizeExceeded", "The specified parameter \"UserData\" exceeds the size of 32 KB (base64).")
		}
		dec, err := base64.StdEncoding.DecodeString(ud)
		if err != nil {
			return nil, newError("InvalidUserData.Base64FormatInvalid", "The specified UserData is not valid base64.")
		}
		req.userData, req.decodedUserData = ud, dec
	}
	req.keyPairName = c.p.get("KeyPairName")
	req.groupIDs = c.p.list("SecurityGroupIds")
	if g := c.p.get("SecurityGroupId"); g != "" && !slices.Contains(req.groupIDs, g) {
		req.groupIDs = append([]string{g}, req.groupIDs...)
	}
	if len(req.groupIDs) == 0 {
		return nil, errMissing("SecurityGroupId")
	}
	if len(req.groupIDs) > 5 {
		return nil, newError("InvalidSecurityGroupId.MultiGroupLimitExceeded", "An instance can join at most 5 security groups.")
	}
	req.vswitchID, req.zoneID = c.p.get("VSwitchId"), c.p.get("ZoneId")
	if req.zoneID != "" && r.zone(req.zoneID) == nil {
		return nil, newErrorf("InvalidZoneId.NotFound", "The specified zone %q does not exist in region %s.", req.zoneID, r.ID)
	}
	req.privateIP = c.p.get("PrivateIpAddress")
	if legacy && req.privateIP == "" {
		req.privateIP = c.p.get("InnerIpAddress")
	}
	if req.bandwidthOut, err = c.p.integer("InternetMaxBandwidthOut", 0, 0, 100); err != nil {
		return nil, withCode(err, "InvalidParameter.Bandwidth")
	}
	if req.bandwidthIn, err = c.p.integer("InternetMaxBandwidthIn", 200, 1, 10000); err != nil {
		return nil, withCode(err, "InvalidParameter.Bandwidth")
	}
	if req.internetChargeType, err = c.p.oneOf("InternetChargeType", "PayByTraffic", "PayByTraffic", "PayByBandwidth"); err != nil {
		return nil, withCode(err, "InvalidInternetChargeType.ValueNotSupported")
	}
	if req.chargeType, err = c.p.oneOf("InstanceChargeType", "PostPaid", "PostPaid", "PrePaid"); err != nil {
		return nil, withCode(err, "InvalidInstanceChargeType.NotFound")
	}
	sysCat := c.p.get("SystemDisk.Category")
	if sysCat == "" {
		sysCat = "cloud_efficiency"
	}
	if !slices.Contains(diskCategories, sysCat) {
		return nil, newErrorf("InvalidSystemDiskCategory.ValueNotSupported", "The specified parameter SystemDisk.Category %q is not valid.", sysCat)
	}
	sysSize := max(40, req.image.Size)
	if s := c.p.get("SystemDisk.Size"); s != "" {
		n, err := c.p.integer("SystemDisk.Size", 0, 1, 1<<20)
		if err != nil {
			return nil, withCode(err, "InvalidSystemDiskSize")
		}
		switch {
		case n < req.image.Size:
			return nil, newErrorf("InvalidSystemDiskSize.LessThanImageSize", "The specified parameter SystemDisk.Size %d is less than the image size %d.", n, req.image.Size)
		case n > 2048:
			return nil, newErrorf("InvalidSystemDiskSize.MoreThanMaxSize", "The specified SystemDisk.Size parameter %d exceeds the maximum size 2048.", n)
		}
		sysSize = n
	}
	req.systemDisk = disk{Category: sysCat, Size: sysSize, Device: "/dev/xvda"}
	disks := c.p.structs("DataDisk")
	if len(disks) > 16 {
		return nil, newError("InstanceDiskNumber.LimitExceed", "The total number of specified disk in an instance exceeds 16.")
	}
	for i, m := range disks {
		cat := m["Category"]
		if cat == "" {
			cat = "cloud_efficiency"
		}
		if !slices.Contains(diskCategories, cat) {
			return nil, newErrorf("InvalidDataDiskCategory.ValueNotSupported", "The specified parameter DataDisk.%d.Category %q is not valid.", i+1, cat)
		}
		var size int
		if _, err := fmt.Sscan(m["Size"], &size); err != nil || size < 20 || size > 32768 {
			return nil, newErrorf("InvalidDataDiskSize.ValueNotSupported", "The specified DataDisk.%d.Size %q is not valid: 20 to 32768 GiB.", i+1, m["Size"])
		}
		req.dataDisks = append(req.dataDisks, disk{Category: cat, Size: size, Device: fmt.Sprintf("/dev/xvd%c", 'b'+i)})
	}
	if req.tags, err = c.p.tagPairs("Tag"); err != nil {
		return nil, err
	}
	req.amount = 1
	if !legacy {
		if req.amount, err = c.p.integer("Amount", 1, 1, 100); err != nil {
			return nil, err
		}
		if req.uniqueSuffix, err = c.p.boolean("UniqueSuffix", false); err != nil {
			return nil, err
		}
	}
	if req.amount > 1 && req.privateIP != "" {
		return nil, newError("InvalidParameter.Conflict", "PrivateIpAddress can only be given when Amount is 1.")
	}
	if req.deletionProtection, err = c.p.boolean("DeletionProtection", false); err != nil {
		return nil, err
	}
	req.resourceGroupID = c.p.get("ResourceGroupId")
	return req, nil
}

// withCode renames the code of an InvalidParameter error where the service
// uses a more specific one.
func withCode(err error, code string) error {
	var ae *APIError
	if errors.As(err, &ae) {
		e := newError(code, ae.Message)
		return e
	}
	return err
}

// defaultHostName is what a host is called when neither HostName nor a
// usable InstanceName is given: iZ<id without "i-">Z, like the real images.
func defaultHostName(id string) string { return "iZ" + strings.TrimPrefix(id, "i-") + "Z" }

// createInstances validates against the state and adds the instances in
// Pending. It returns the instances and the specs for the backend.
func (s *Server) createInstances(c *callCtx, req *createRequest, legacy bool) ([]*instance, []InstanceSpec, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	var sw *vswitch
	if req.vswitchID != "" {
		var err error
		if sw, err = st.vswitches.find(req.region.ID, req.vswitchID); err != nil {
			return nil, nil, err
		}
		if req.zoneID != "" && req.zoneID != sw.ZoneID {
			return nil, nil, newErrorf("InvalidParameter.Mismatch", "Specified virtual switch %s is not in the specified zone %s.", sw.ID, req.zoneID)
		}
	} else {
		// No VSwitch: the default VSwitch of the zone (the first zone when
		// none is named) in the region's default VPC.
		zone := req.zoneID
		if zone == "" {
			zone = req.region.Zones[0].ID
		}
		sw, _ = st.vswitches.first(func(cand *vswitch) bool {
			v := st.vpcs.at(cand.VpcID)
			return cand.RegionID == req.region.ID && cand.ZoneID == zone && cand.IsDefault && v != nil && v.IsDefault
		})
		if sw == nil {
			return nil, nil, newErrorf("InvalidVSwitchId.Necessary", "The VSwitchId is necessary: zone %s has no default VSwitch.", zone)
		}
	}
	if sw.Status != "Available" {
		return nil, nil, newError("IncorrectVSwitchStatus", "The current status of virtual switch does not support this operation.")
	}
	for _, g := range req.groupIDs {
		sg, err := st.securityGroups.find(req.region.ID, g)
		if err != nil {
			return nil, nil, err
		}
		if sg.VpcID != "" && sg.VpcID != sw.VpcID {
			return nil, nil, newErrorf("InvalidSecurityGroupId.VPCMismatch", "The specified security group %s (VPC %s) and the specified virtual switch %s (VPC %s) are not in the same VPC.", sg.ID, sg.VpcID, sw.ID, sw.VpcID)
		}
		if st.groupMembers(g)+req.amount > maxInstancesPerGroup {
			return nil, nil, newErrorf("SecurityGroupInstanceLimitExceed", "Security group %s cannot take %d more instances.", g, req.amount)
		}
	}
	var keys []string
	if req.keyPairName != "" {
		kp, err := st.keyPairs.find(req.region.ID, req.keyPairName)
		if err != nil {
			return nil, nil, err
		}
		keys = []string{kp.PublicKey}
	}
	if err := c.dryRun(); err != nil {
		return nil, nil, err
	}

	now := time.Now().UTC()
	var out []*instance
	var specs []InstanceSpec
	release := func() {
		for _, inst := range out {
			sw.releaseIP(inst.vswitchIP)
			if inst.PublicIP != "" {
				st.publicAddrs.give(inst.PublicIP)
			}
		}
	}
	for n := range req.amount {
		id := newID("i", req.region.ID)
		name, host := req.name, req.hostName
		if req.uniqueSuffix && req.amount > 1 {
			suffix := fmt.Sprintf("%03d", n+1)
			if name != "" {
				name += suffix
			}
			if host != "" {
				host += suffix
			}
		}
		if name == "" {
			name = id
		}
		if host == "" {
			host = defaultHostName(id)
			if hostNamePattern.MatchString(name) {
				host = name
			}
		}
		ip, err := sw.allocIP(req.privateIP)
		if err != nil {
			release()
			return nil, nil, err
		}
		inst := &instance{
			meta: newMeta(id, req.region.ID, now), ZoneID: sw.ZoneID, Name: name, HostName: host, Description: req.description,
			ImageID: req.image.ID, InstanceType: req.itype.ID, VpcID: sw.VpcID, VSwitchID: sw.ID,
			PrivateIP: ip, vswitchIP: ip, SecurityGroupIDs: slices.Clone(req.groupIDs), KeyPairName: req.keyPairName,
			password: req.password, UserData: req.userData, Status: statusPending,
			BandwidthOut: req.bandwidthOut, BandwidthIn: req.bandwidthIn, InternetChargeType: req.internetChargeType,
			InstanceChargeType: req.chargeType, SystemDisk: req.systemDisk, ResourceGroupID: req.resourceGroupID,
			DeletionProtection: req.deletionProtection, ENIID: newID("eni", req.region.ID), MAC: randomMAC(), op: 1,
		}
		if inst.ResourceGroupID == "" {
			inst.ResourceGroupID = st.defaultResourceGroup
		}
		inst.SystemDisk.ID = newID("d", req.region.ID)
		for _, d := range req.dataDisks {
			d.ID = newID("d", req.region.ID)
			inst.DataDisks = append(inst.DataDisks, d)
		}
		// RunInstances gives a public IP with the bandwidth; the legacy
		// CreateInstance leaves that to AllocatePublicIpAddress.
		if req.bandwidthOut > 0 && !legacy {
			pub, err := s.takePublicLocked()
			if err != nil {
				release()
				return nil, nil, newErrorf("QuotaExceeded.PublicIpAddress", "No public IP address is left: %v", err)
			}
			inst.PublicIP = pub
		}
		out = append(out, inst)
		specs = append(specs, InstanceSpec{
			ID: id, RegionID: inst.RegionID, ZoneID: inst.ZoneID, HostName: host, ImageID: inst.ImageID,
			PrivateIP: ip, Password: req.password, AuthorizedKeys: keys, UserData: req.decodedUserData,
		})
	}
	for _, inst := range out {
		inst.Tags = slices.Clone(req.tags)
		st.instances.put(inst)
		if inst.PublicIP != "" {
			s.exposeLocked(inst.PublicIP, inst.ID)
		}
	}
	return out, specs, nil
}

func randomMAC() string {
	r := randomID(6)
	return fmt.Sprintf("00:16:3e:%02x:%02x:%02x", r[0], r[1], r[2]^r[3]^r[4]^r[5])
}

// launch hands new instances to the backend and starts their lifecycle.
func (s *Server) launch(c *callCtx, insts []*instance, specs []InstanceSpec, run bool) error {
	for i, inst := range insts {
		if err := s.backend.Create(c.ctx, specs[i]); err != nil {
			// The API accepted the instance; a backend that cannot record it
			// leaves it Stopped, as a failed creation does.
			s.log.Warn("cloudsim: backend refused a new instance", "instance", inst.ID, "backend", s.backend.Name(), "err", err)
		}
		id, op := inst.ID, inst.op
		s.goBackground(func(ctx context.Context) { s.createFlow(ctx, id, op, run) })
	}
	return nil
}

func (s *Server) ecsRunInstances(c *callCtx) (obj, error) {
	req, err := parseCreate(c, false)
	if err != nil {
		return nil, err
	}
	insts, specs, err := s.createInstances(c, req, false)
	if err != nil {
		return nil, err
	}
	if err := s.launch(c, insts, specs, true); err != nil {
		return nil, err
	}
	ids := make([]string, len(insts))
	for i, inst := range insts {
		ids[i] = inst.ID
	}
	return obj{"InstanceIdSets": obj{"InstanceIdSet": ids}, "TradePrice": 0, "OrderId": ""}, nil
}

func (s *Server) ecsCreateInstance(c *callCtx) (obj, error) {
	req, err := parseCreate(c, true)
	if err != nil {
		return nil, err
	}
	insts, specs, err := s.createInstances(c, req, true)
	if err != nil {
		return nil, err
	}
	if err := s.launch(c, insts, specs, false); err != nil {
		return nil, err
	}
	return obj{"InstanceId": insts[0].ID, "TradePrice": 0, "OrderId": ""}, nil
}

// instanceCall reads RegionId (optional for these actions: the instance ID
// is global) and InstanceId, and returns the instance under the lock, which
// the caller must release.
func (s *Server) instanceCall(c *callCtx) (*instance, error) {
	region := c.p.get("RegionId")
	if region != "" && findRegion(region) == nil {
		return nil, newErrorf("InvalidRegionId.NotFound", "The specified RegionId %q does not exist.", region)
	}
	id, err := c.p.required("InstanceId")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	inst, err := s.st.instances.find(region, id)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	return inst, nil
}

func incorrectStatus(inst *instance, want string) error {
	if inst.Status == statusPending {
		return newErrorf("IncorrectInstanceStatus.Initializing", "The specified instance status does not support this operation: instance %s is still being created (Pending).", inst.ID)
	}
	return newErrorf("IncorrectInstanceStatus", "The current status of the resource does not support this operation: instance %s is %s, the action needs %s.", inst.ID, inst.Status, want)
}

// powerAction is the body of Start/Stop/RebootInstance: the instance must be
// in status need; it moves to next at once and flow finishes the transition
// in the background under a new op number.
func (s *Server) powerAction(c *callCtx, need, next string, flow func(ctx context.Context, id string, op int)) (obj, error) {
	inst, err := s.instanceCall(c)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	// Stop and Reboot take ForceStop; a malformed one fails before the status check.
	if need == statusRunning {
		if _, err := c.p.boolean("ForceStop", false); err != nil {
			return nil, err
		}
	}
	if inst.Status != need {
		return nil, incorrectStatus(inst, need)
	}
	if err := c.dryRun(); err != nil {
		return nil, err
	}
	inst.Status = next
	inst.op++
	id, op := inst.ID, inst.op
	s.goBackground(func(ctx context.Context) { flow(ctx, id, op) })
	return obj{}, nil
}

func (s *Server) ecsStartInstance(c *callCtx) (obj, error) {
	return s.powerAction(c, statusStopped, statusStarting, s.bootFlow)
}

func (s *Server) ecsStopInstance(c *callCtx) (obj, error) {
	return s.powerAction(c, statusRunning, statusStopping, func(ctx context.Context, id string, op int) { s.stopFlow(ctx, id, op, false) })
}

func (s *Server) ecsRebootInstance(c *callCtx) (obj, error) {
	return s.powerAction(c, statusRunning, statusStopping, func(ctx context.Context, id string, op int) { s.stopFlow(ctx, id, op, true) })
}

func (s *Server) ecsDeleteInstance(c *callCtx) (obj, error) {
	force, err := c.p.boolean("Force", false)
	if err != nil {
		return nil, err
	}
	inst, err := s.instanceCall(c)
	if err != nil {
		return nil, err
	}
	switch {
	case inst.Status == statusStopped:
	case inst.Status == statusRunning && force:
	default:
		want := statusStopped
		if !force {
			want += " (or Running with Force=true)"
		}
		// The error reads the status, so it is built under the lock.
		err := incorrectStatus(inst, want)
		s.mu.Unlock()
		return nil, err
	}
	if inst.DeletionProtection {
		s.mu.Unlock()
		return nil, newErrorf("InvalidOperation.DeletionProtection", "Instance %s has deletion protection; turn it off with ModifyInstanceAttribute first.", inst.ID)
	}
	if err := s.st.instances.deletable(inst); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if err := c.dryRun(); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	s.removeInstanceLocked(inst)
	s.mu.Unlock()
	// The host goes before the answer, so a caller that sees success finds
	// no container left.
	if err := s.backend.Delete(c.ctx, inst.ID); err != nil {
		return nil, fmt.Errorf("deleting the host of instance %s: %w", inst.ID, err)
	}
	return obj{}, nil
}

// removeInstanceLocked drops an instance and what only it held: its private
// and public IPs, its EIP association, its SLB backend entries and its tags.
func (s *Server) removeInstanceLocked(inst *instance) {
	st := s.st
	inst.op++
	st.instances.remove(inst)
	s.ips.Delete(inst.ID)
	if sw := st.vswitches.at(inst.VSwitchID); sw != nil {
		sw.releaseIP(inst.vswitchIP)
	}
	if inst.PublicIP != "" {
		s.unexposeLocked(inst.PublicIP)
		st.publicAddrs.give(inst.PublicIP)
	}
	if e := st.eips.at(inst.EIPID); e != nil {
		s.unexposeLocked(e.IP)
		e.Status, e.InstanceID, e.InstanceType = "Available", "", ""
	}
	for _, lb := range st.loadBalancers.all() {
		before := len(lb.backends)
		lb.backends = slices.DeleteFunc(lb.backends, func(b *backendServer) bool { return b.ServerID == inst.ID })
		if len(lb.backends) != before {
			lb.refreshTargetsLocked()
		}
	}
}
