package cloudsim

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"
)

// EC2 instances. The state machine:
//
//	RunInstances:       pending -(create_time, backend start, boot_time)-> running
//	StopInstances:      running -> stopping -(backend stop, stop_time)-> stopped
//	StartInstances:     stopped -> pending -> running
//	RebootInstances:    running (the host stops and starts again)
//	TerminateInstances: any -> shutting-down -(backend delete)-> terminated
//
// A public IP that is not an EIP is given at launch and at every start, and
// returned at every stop, as EC2 does. Terminated instances stay visible to
// Describe calls for terminatedVisible, holding nothing.

const terminatedVisible = time.Hour

// volumeSpec is one EBS volume RunInstances makes.
type volumeSpec struct {
	device, typ, kms    string
	size, iops, through int
	encrypted, deleteOn bool
	root                bool
}

// runRequest is a validated RunInstances request.
type runRequest struct {
	image                *ec2Image
	itype, keyName       string
	count                int
	subnetID, zone       string
	groupIDs, groupNames []string
	privateIP            string
	publicIP             *bool
	volumes              []volumeSpec
	tags                 map[string][]tag
	userData             string
	decodedUserData      []byte
	httpTokens, endpoint string
	hopLimit             int
	metadataTags         string
	spot                 *spotOptions
	spotRequestID        string // the request this launch fulfils
	iamProfile           string
	monitoring, ebsOpt   bool
}

type spotOptions struct {
	maxPrice, kind, behavior string
}

// ec2VolumeRules checks an EBS volume's type, size, IOPS and throughput the
// way EC2 does.
func ec2VolumeRules(v *volumeSpec) error {
	switch v.typ {
	case "gp2", "standard", "sc1", "st1":
		if v.iops > 0 && v.typ != "gp2" {
			return ec2Errorf("InvalidParameterCombination", "The parameter iops is not supported for %s volumes.", v.typ)
		}
		if v.iops > 0 {
			return ec2Errorf("InvalidParameterCombination", "The parameter iops is not supported for gp2 volumes.")
		}
		if v.through > 0 {
			return ec2Errorf("InvalidParameterCombination", "The parameter throughput is not supported for %s volumes.", v.typ)
		}
	case "gp3":
		if v.iops == 0 {
			v.iops = 3000
		}
		if v.through == 0 {
			v.through = 125
		}
		if v.iops < 3000 || v.iops > 16000 {
			return ec2Invalid("Volume iops of %d is too high or too low; gp3 takes 3000 to 16000.", v.iops)
		}
		if v.through < 125 || v.through > 1000 {
			return ec2Invalid("Throughput of %d MiB/s is invalid for gp3; use 125 to 1000.", v.through)
		}
		if v.iops > 500*v.size {
			return ec2Invalid("Iops to volume size ratio of %d is too high; maximum is 500.", v.iops/max(v.size, 1))
		}
	case "io1", "io2":
		if v.iops == 0 {
			return ec2Errorf("InvalidParameterCombination", "The parameter iops must be specified for %s volumes.", v.typ)
		}
		if v.iops < 100 || v.iops > 64000 {
			return ec2Invalid("Volume iops of %d is too high or too low; %s takes 100 to 64000.", v.iops, v.typ)
		}
		if v.through > 0 {
			return ec2Errorf("InvalidParameterCombination", "The parameter throughput is not supported for %s volumes.", v.typ)
		}
	default:
		return ec2Invalid("Value (%s) for parameter volumeType is invalid. Valid values: standard, io1, io2, gp2, gp3, sc1, st1.", v.typ)
	}
	if v.size < 1 || v.size > 16384 || ((v.typ == "io1" || v.typ == "io2") && v.size < 4) {
		return ec2Invalid("Volume of %d GiB is out of range for %s.", v.size, v.typ)
	}
	if v.kms != "" && !v.encrypted {
		return ec2Errorf("InvalidParameterDependency", "The parameter KmsKeyId requires the parameter Encrypted to be set.")
	}
	return nil
}

// parseRun validates what needs no state.
func parseRun(c *ec2Call) (*runRequest, error) {
	p := c.p
	imageID, err := p.ec2Required("ImageId")
	if err != nil {
		return nil, err
	}
	req := &runRequest{image: findEC2Image(c.region.Name, imageID)}
	if req.image == nil {
		if !strings.HasPrefix(imageID, "ami-") {
			return nil, ec2Errorf("InvalidAMIID.Malformed", "Invalid id: \"%s\" (expecting \"ami-...\")", imageID)
		}
		return nil, ec2Errorf("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", imageID)
	}
	if _, err := p.ec2Required("MinCount"); err != nil {
		return nil, err
	}
	if _, err := p.ec2Required("MaxCount"); err != nil {
		return nil, err
	}
	minCount, err := p.ec2Int("MinCount", 1)
	if err != nil {
		return nil, err
	}
	maxCount, err := p.ec2Int("MaxCount", 1)
	if err != nil {
		return nil, err
	}
	if minCount < 1 || maxCount < minCount {
		return nil, ec2Invalid("Value (%d) for parameter maxCount is invalid: MinCount must be at least 1 and at most MaxCount.", maxCount)
	}
	if maxCount > 20 {
		return nil, ec2Errorf("InstanceLimitExceeded", "You have requested more instances (%d) than your current instance limit of 20 allows for the specified instance type.", maxCount)
	}
	req.count = maxCount
	req.itype = p.get("InstanceType")
	if req.itype == "" {
		req.itype = "m1.small"
	}
	if _, ok := ec2InstanceTypes[req.itype]; !ok {
		return nil, ec2Invalid("Invalid value '%s' for InstanceType.", req.itype)
	}
	req.keyName = p.get("KeyName")
	req.subnetID, req.privateIP = p.get("SubnetId"), p.get("PrivateIpAddress")
	req.groupIDs, req.groupNames = p.list("SecurityGroupId"), p.list("SecurityGroup")
	req.zone = p.get("Placement.AvailabilityZone")
	if req.zone != "" && !c.region.hasZone(req.zone) {
		return nil, ec2Errorf("InvalidParameterValue", "Invalid availability zone: [%s]", req.zone)
	}
	if nis := p.each("NetworkInterface"); len(nis) > 0 {
		if len(nis) > 1 {
			return nil, ec2Invalid("The simulator attaches one network interface per instance (device index 0).")
		}
		ni := nis[0]
		if req.subnetID != "" || len(req.groupIDs) > 0 {
			return nil, ec2Errorf("InvalidParameterCombination", "Network interfaces and an instance-level subnet ID or security groups may not be specified on the same request")
		}
		if idx := ni.get("DeviceIndex"); idx != "" && idx != "0" {
			return nil, ec2Invalid("The primary network interface must have device index 0, not %s.", idx)
		}
		req.subnetID = ni.get("SubnetId")
		req.groupIDs = ni.list("SecurityGroupId")
		if ip := ni.get("PrivateIpAddress"); ip != "" {
			req.privateIP = ip
		}
		if ni.has("AssociatePublicIpAddress") {
			b, err := ni.ec2Bool("AssociatePublicIpAddress", false)
			if err != nil {
				return nil, err
			}
			req.publicIP = &b
		}
	}
	if req.count > 1 && req.privateIP != "" {
		return nil, ec2Errorf("InvalidParameterCombination", "A private IP address can only be given when launching one instance.")
	}
	if req.volumes, err = parseBlockDevices(c, req.image); err != nil {
		return nil, err
	}
	if req.tags, err = tagSpecs(p, "instance", "volume", "network-interface", "spot-instances-request"); err != nil {
		return nil, err
	}
	if ud := p.get("UserData"); ud != "" {
		dec, err := base64.StdEncoding.DecodeString(ud)
		if err != nil {
			return nil, ec2Invalid("Invalid BASE64 encoding of user data.")
		}
		if len(dec) > 16*1024 {
			return nil, ec2Invalid("User data is limited to 16384 bytes")
		}
		req.userData, req.decodedUserData = ud, dec
	}
	req.httpTokens = cmpOr(p.get("MetadataOptions.HttpTokens"), "optional")
	req.endpoint = cmpOr(p.get("MetadataOptions.HttpEndpoint"), "enabled")
	req.metadataTags = cmpOr(p.get("MetadataOptions.InstanceMetadataTags"), "disabled")
	if !containsStr([]string{"optional", "required"}, req.httpTokens) {
		return nil, ec2Invalid("Value (%s) for parameter HttpTokens is invalid. Valid values: optional, required.", req.httpTokens)
	}
	if !containsStr([]string{"enabled", "disabled"}, req.endpoint) {
		return nil, ec2Invalid("Value (%s) for parameter HttpEndpoint is invalid. Valid values: enabled, disabled.", req.endpoint)
	}
	if req.hopLimit, err = p.ec2Int("MetadataOptions.HttpPutResponseHopLimit", 1); err != nil {
		return nil, err
	}
	if req.hopLimit < 1 || req.hopLimit > 64 {
		return nil, ec2Invalid("Value (%d) for parameter HttpPutResponseHopLimit is invalid: 1 to 64.", req.hopLimit)
	}
	if mt := p.get("InstanceMarketOptions.MarketType"); mt != "" {
		if mt != "spot" {
			return nil, ec2Invalid("Value (%s) for parameter MarketType is invalid. Valid values: spot.", mt)
		}
		so := &spotOptions{maxPrice: p.get("InstanceMarketOptions.SpotOptions.MaxPrice"),
			kind:     cmpOr(p.get("InstanceMarketOptions.SpotOptions.SpotInstanceType"), "one-time"),
			behavior: cmpOr(p.get("InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior"), "terminate")}
		if so.kind != "one-time" && so.kind != "persistent" {
			return nil, ec2Invalid("Value (%s) for parameter SpotInstanceType is invalid. Valid values: one-time, persistent.", so.kind)
		}
		if so.kind == "one-time" && so.behavior != "terminate" {
			return nil, ec2Errorf("InvalidParameterCombination", "The interruption behavior %s is only supported for persistent Spot requests.", so.behavior)
		}
		if so.maxPrice != "" {
			if f, err := strconv.ParseFloat(so.maxPrice, 64); err != nil || f <= 0 {
				return nil, ec2Invalid("Invalid max price: %s", so.maxPrice)
			}
		}
		req.spot = so
	}
	req.iamProfile = cmpOr(p.get("IamInstanceProfile.Arn"), p.get("IamInstanceProfile.Name"))
	if req.monitoring, err = p.ec2Bool("Monitoring.Enabled", false); err != nil {
		return nil, err
	}
	if req.ebsOpt, err = p.ec2Bool("EbsOptimized", false); err != nil {
		return nil, err
	}
	return req, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// parseBlockDevices is the image's root volume, changed by a mapping of its
// device, plus every other EBS mapping.
func parseBlockDevices(c *ec2Call, img *ec2Image) ([]volumeSpec, error) {
	root := volumeSpec{device: img.RootDevice, typ: img.VolumeType, size: imageSize, deleteOn: true, root: true}
	vols := []volumeSpec{root}
	for _, m := range c.p.each("BlockDeviceMapping") {
		dev := m.get("DeviceName")
		if dev == "" {
			return nil, ec2Missing("BlockDeviceMapping.N.DeviceName")
		}
		if m.has("NoDevice") || m.has("VirtualName") {
			if dev == img.RootDevice {
				return nil, ec2Errorf("InvalidBlockDeviceMapping", "The device %s is the root device and cannot be suppressed.", dev)
			}
			continue
		}
		v := volumeSpec{device: dev, typ: "gp2", deleteOn: true}
		i := slices.IndexFunc(vols, func(have volumeSpec) bool { return have.device == dev })
		if i >= 0 {
			v = vols[i]
		}
		ebs := m.sub("Ebs.")
		var err error
		if t := ebs.get("VolumeType"); t != "" {
			v.typ = t
		}
		if v.size, err = ebs.ec2Int("VolumeSize", v.size); err != nil {
			return nil, err
		}
		if v.iops, err = ebs.ec2Int("Iops", v.iops); err != nil {
			return nil, err
		}
		if v.through, err = ebs.ec2Int("Throughput", v.through); err != nil {
			return nil, err
		}
		if v.deleteOn, err = ebs.ec2Bool("DeleteOnTermination", i >= 0 && v.deleteOn || i < 0); err != nil {
			return nil, err
		}
		if v.encrypted, err = ebs.ec2Bool("Encrypted", v.encrypted); err != nil {
			return nil, err
		}
		v.kms = cmpOr(ebs.get("KmsKeyId"), v.kms)
		if v.root && v.size < imageSize {
			return nil, ec2Errorf("InvalidBlockDeviceMapping", "Volume of size %dGB is smaller than snapshot '%s', expect size >= %dGB", v.size, img.snapshotID(c.region.Name), imageSize)
		}
		if v.size == 0 {
			return nil, ec2Errorf("InvalidBlockDeviceMapping", "The volume size of %s must be given (no snapshot).", dev)
		}
		if i >= 0 {
			vols[i] = v
		} else {
			vols = append(vols, v)
		}
	}
	for i := range vols {
		if err := ec2VolumeRules(&vols[i]); err != nil {
			return nil, err
		}
	}
	return vols, nil
}

// runFingerprint digests RunInstances' parameters for ClientToken.
func runFingerprint(p params) string { return fingerprintExcept(p, []string{"ClientToken", "DryRun"}) }

func (s *Server) ec2RunInstances(c *ec2Call) ([]xnode, error) {
	req, err := parseRun(c)
	if err != nil {
		return nil, err
	}
	token := c.p.get("ClientToken")
	if len(token) > 64 {
		return nil, ec2Invalid("Value (%s) for parameter clientToken is invalid: at most 64 ASCII characters.", token)
	}
	s.mu.Lock()
	e := s.st.ec2
	tokenKey := c.region.Name + "/" + token
	if rec, ok := e.tokens[tokenKey]; token != "" && ok {
		defer s.mu.Unlock()
		if rec.fingerprint != runFingerprint(c.p) {
			return nil, ec2Errorf("IdempotentParameterMismatch", "Arguments on this idempotent request are inconsistent with arguments used in previous request(s).")
		}
		return s.reservationAnswer(rec.reservationID, rec.instanceIDs), nil
	}
	insts, specs, err := s.placeInstances(c, req, token)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	ids := make([]string, len(insts))
	for i, inst := range insts {
		ids[i] = inst.ID
	}
	if token != "" {
		e.tokens[tokenKey] = ec2TokenRecord{fingerprint: runFingerprint(c.p), reservationID: insts[0].ReservationID, instanceIDs: ids}
	}
	answer := s.reservationAnswer(insts[0].ReservationID, ids)
	s.mu.Unlock()
	s.bootNew(c.r.Context(), insts, specs)
	return answer, nil
}

// bootNew hands new instances to the backend and boots them after
// create_time. The caller does not hold s.mu.
func (s *Server) bootNew(ctx context.Context, insts []*ec2Instance, specs []InstanceSpec) {
	for i, inst := range insts {
		if err := s.backend.Create(ctx, specs[i]); err != nil {
			s.log.Warn("cloudsim: backend refused a new EC2 instance", "instance", inst.ID, "backend", s.backend.Name(), "err", err)
		}
		id, op := inst.ID, inst.op
		s.goBackground(func(ctx context.Context) {
			if sleepCtx(ctx, s.faults.get().CreateTime.D()) != nil {
				return
			}
			s.bootFlow(ctx, id, op)
		})
	}
}

// placeInstances checks the request against the state and adds the
// instances (pending), their volumes, addresses and spot requests. The
// caller holds s.mu.
func (s *Server) placeInstances(c *ec2Call, req *runRequest, token string) ([]*ec2Instance, []InstanceSpec, error) {
	e := s.st.ec2
	region := c.region.Name
	var sn *ec2Subnet
	if req.subnetID != "" {
		var err error
		if sn, err = e.subnets.find(region, req.subnetID); err != nil {
			return nil, nil, err
		}
		if req.zone != "" && req.zone != sn.Zone {
			return nil, nil, ec2Errorf("InvalidParameterValue", "Subnet %s is in %s, not in the requested zone %s.", sn.ID, sn.Zone, req.zone)
		}
	} else {
		zone := cmpOr(req.zone, c.region.Zones[0])
		sn, _ = e.subnets.first(func(x *ec2Subnet) bool { return x.RegionID == region && x.Zone == zone && x.DefaultForAz })
		if sn == nil {
			return nil, nil, ec2Errorf("MissingInput", "No subnets found for the default VPC in %s. Please specify a subnet.", zone)
		}
	}
	groups := slices.Clone(req.groupIDs)
	for _, name := range req.groupNames {
		g, ok := e.groups.first(func(g *ec2Group) bool { return g.VpcID == sn.VpcID && g.Name == name })
		if !ok {
			return nil, nil, ec2Errorf("InvalidGroup.NotFound", "The security group '%s' does not exist in VPC '%s'", name, sn.VpcID)
		}
		groups = append(groups, g.ID)
	}
	if len(groups) == 0 {
		g, _ := e.groups.first(func(g *ec2Group) bool { return g.VpcID == sn.VpcID && g.Name == "default" })
		groups = []string{g.ID}
	}
	for _, id := range groups {
		g, err := e.groups.find(region, id)
		if err != nil {
			return nil, nil, err
		}
		if g.VpcID != sn.VpcID {
			return nil, nil, ec2Errorf("InvalidParameter", "Security group %s and subnet %s belong to different networks.", g.ID, sn.ID)
		}
	}
	var keys []string
	if req.keyName != "" {
		kp, ok := e.keyPairs.first(func(k *ec2KeyPair) bool { return k.RegionID == region && k.Name == req.keyName })
		if !ok {
			return nil, nil, ec2Errorf("InvalidKeyPair.NotFound", "The key pair '%s' does not exist", req.keyName)
		}
		keys = []string{kp.PublicKey}
	}
	if err := c.dryRun(); err != nil {
		return nil, nil, err
	}
	now := time.Now().UTC()
	public := sn.MapPublicIP
	if req.publicIP != nil {
		public = *req.publicIP
	}
	reservation := ec2ID("r")
	var out []*ec2Instance
	var specs []InstanceSpec
	undo := func() {
		for _, inst := range out {
			sn.releaseIP(inst.subnetIP)
			if inst.PublicIP != "" {
				s.st.publicAddrs.give(inst.PublicIP)
			}
		}
	}
	for range req.count {
		ip, err := sn.take(req.privateIP)
		if err != nil {
			undo()
			if req.privateIP != "" {
				return nil, nil, ec2Errorf("InvalidIPAddress.InUse", "Address %s is in use or not usable in subnet %s: %v.", req.privateIP, sn.ID, err)
			}
			return nil, nil, ec2Errorf("InsufficientFreeAddressesInSubnet", "There are not enough free addresses in subnet '%s' to satisfy the requested number of instances.", sn.ID)
		}
		inst := &ec2Instance{
			meta: newMeta(ec2ID("i"), region, now), ImageID: req.image.imageID(region), Type: req.itype, KeyName: req.keyName,
			Zone: sn.Zone, VpcID: sn.VpcID, SubnetID: sn.ID, PrivateIP: ip, subnetIP: ip, GroupIDs: slices.Clone(groups),
			State: ec2Pending, ReservationID: reservation, ClientToken: token, UserData: req.userData, Launch: now,
			ENIID: ec2ID("eni"), MAC: "0e:" + strings.Join([]string{randomHex(2), randomHex(2), randomHex(2), randomHex(2), randomHex(2)}, ":"),
			RootDevice: req.image.RootDevice, HTTPTokens: req.httpTokens, HTTPEndpoint: req.endpoint, HopLimit: req.hopLimit,
			MetadataTags: req.metadataTags, IamProfileArn: req.iamProfile, Monitoring: req.monitoring, EbsOptimized: req.ebsOpt,
			publicOnStart: public, op: 1,
		}
		if public {
			pub, err := s.takePublicLocked()
			if err != nil {
				undo()
				sn.releaseIP(ip)
				return nil, nil, ec2Errorf("InsufficientInstanceCapacity", "No public address is left: %v", err)
			}
			inst.PublicIP = pub
		}
		out = append(out, inst)
		user := "ubuntu"
		if strings.HasPrefix(req.image.Name, "debian") {
			user = "admin"
		}
		specs = append(specs, InstanceSpec{
			ID: inst.ID, RegionID: region, ZoneID: sn.Zone, HostName: "ip-" + strings.ReplaceAll(ip, ".", "-"), ImageID: inst.ImageID,
			PrivateIP: ip, AuthorizedKeys: keys, UserData: req.decodedUserData, SudoUser: user,
		})
	}
	for _, inst := range out {
		_ = withTags(&inst.meta, req.tags["instance"])
		for _, vs := range req.volumes {
			v := s.newVolume(region, inst.Zone, vs, req.tags["volume"], now)
			v.InstanceID, v.Device, v.DeleteOnTermination, v.AttachTime = inst.ID, vs.device, vs.deleteOn, now
			if vs.root {
				v.SnapshotID = req.image.snapshotID(region)
			}
			inst.VolumeIDs = append(inst.VolumeIDs, v.ID)
		}
		switch {
		case req.spotRequestID != "":
			inst.SpotRequestID = req.spotRequestID
		case req.spot != nil:
			inst.SpotRequestID = s.newSpotRequest(region, req, inst, now).ID
		}
		e.instances.put(inst)
		if inst.PublicIP != "" {
			s.exposeLocked(inst.PublicIP, inst.ID)
		}
	}
	return out, specs, nil
}

// newVolume stores an EBS volume; encryption follows the account default
// when the mapping does not ask for it. The caller holds s.mu.
func (s *Server) newVolume(region, zone string, vs volumeSpec, tags []tag, now time.Time) *ec2Volume {
	e := s.st.ec2
	v := &ec2Volume{meta: newMeta(ec2ID("vol"), region, now), Zone: zone, Type: vs.typ, Size: vs.size, Iops: vs.iops,
		Throughput: vs.through, Encrypted: vs.encrypted || e.ebsEncryption[region], KmsKeyID: vs.kms}
	if v.Encrypted && v.KmsKeyID == "" {
		v.KmsKeyID = s.defaultKmsKey(region)
	}
	if v.Type == "gp2" {
		v.Iops = max(100, min(16000, 3*v.Size))
	}
	_ = withTags(&v.meta, tags)
	e.volumes.put(v)
	return v
}

func (s *Server) defaultKmsKey(region string) string {
	sum := sha256.Sum256([]byte(s.st.ec2.account + "/" + region))
	h := hex.EncodeToString(sum[:])
	return "arn:aws:kms:" + region + ":" + s.st.ec2.account + ":key/" + h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// reservationAnswer is RunInstances' answer: the reservation. The caller
// holds s.mu.
func (s *Server) reservationAnswer(reservationID string, ids []string) []xnode {
	var insts []*ec2Instance
	for _, id := range ids {
		if inst := s.st.ec2.instances.at(id); inst != nil {
			insts = append(insts, inst)
		}
	}
	r := s.reservationView(reservationID, insts)
	return r.kids
}

func (s *Server) reservationView(id string, insts []*ec2Instance) xnode {
	var groups []xnode
	if len(insts) > 0 {
		groups = s.groupRefs(insts[0].GroupIDs)
	}
	views := make([]xnode, 0, len(insts))
	for i, inst := range insts {
		views = append(views, s.ec2InstanceView(inst, i))
	}
	return item(leaf("reservationId", id), leaf("ownerId", s.st.ec2.account), set("groupSet", groups), set("instancesSet", views))
}

func (s *Server) groupRefs(ids []string) []xnode {
	var out []xnode
	for _, id := range ids {
		name := ""
		if g := s.st.ec2.groups.at(id); g != nil {
			name = g.Name
		}
		out = append(out, item(leaf("groupId", id), leaf("groupName", name)))
	}
	return out
}

func stateNode(name, state string) xnode {
	return elem(name, leaf("code", ec2StateCodes[state]), leaf("name", state))
}

func dnsNames(inst *ec2Instance) (private, public string) {
	domain := inst.RegionID + ".compute.internal"
	pubDomain := inst.RegionID + ".compute.amazonaws.com"
	if inst.RegionID == "us-east-1" {
		domain, pubDomain = "ec2.internal", "compute-1.amazonaws.com"
	}
	if inst.live() {
		private = "ip-" + strings.ReplaceAll(inst.PrivateIP, ".", "-") + "." + domain
	}
	if inst.PublicIP != "" {
		public = "ec2-" + strings.ReplaceAll(inst.PublicIP, ".", "-") + "." + pubDomain
	}
	return private, public
}

func (s *Server) ec2InstanceView(inst *ec2Instance, launchIndex int) xnode {
	e := s.st.ec2
	privDNS, pubDNS := dnsNames(inst)
	itype := ec2InstanceTypes[inst.Type]
	var bdm []xnode
	for _, vid := range inst.VolumeIDs {
		if v := e.volumes.at(vid); v != nil && v.InstanceID == inst.ID {
			bdm = append(bdm, item(leaf("deviceName", v.Device), elem("ebs", leaf("volumeId", v.ID), leaf("status", "attached"),
				leaf("attachTime", v.AttachTime), leaf("deleteOnTermination", v.DeleteOnTermination))))
		}
	}
	kids := []xnode{
		leaf("instanceId", inst.ID), leaf("imageId", inst.ImageID), stateNode("instanceState", inst.State),
		leaf("privateDnsName", privDNS), leaf("dnsName", pubDNS), leaf("reason", ""),
	}
	kids = append(kids, optional("keyName", inst.KeyName)...)
	kids = append(kids, leaf("amiLaunchIndex", launchIndex), set("productCodes", nil), leaf("instanceType", inst.Type),
		leaf("launchTime", inst.Launch),
		elem("placement", leaf("availabilityZone", inst.Zone), leaf("groupName", ""), leaf("tenancy", "default")),
		elem("monitoring", leaf("state", map[bool]string{true: "enabled", false: "disabled"}[inst.Monitoring])))
	if inst.live() {
		kids = append(kids, leaf("subnetId", inst.SubnetID), leaf("vpcId", inst.VpcID), leaf("privateIpAddress", inst.PrivateIP))
	}
	kids = append(kids, optional("ipAddress", inst.PublicIP)...)
	kids = append(kids, leaf("sourceDestCheck", true), set("groupSet", s.groupRefs(inst.GroupIDs)))
	if inst.StateReason != "" {
		kids = append(kids, elem("stateReason", leaf("code", inst.StateReason), leaf("message", inst.StateReason+": "+stateReasonText[inst.StateReason])))
	}
	kids = append(kids, leaf("architecture", "x86_64"), leaf("rootDeviceType", "ebs"), leaf("rootDeviceName", inst.RootDevice),
		set("blockDeviceMapping", bdm))
	if inst.SpotRequestID != "" {
		kids = append(kids, leaf("instanceLifecycle", "spot"), leaf("spotInstanceRequestId", inst.SpotRequestID))
	}
	kids = append(kids, leaf("virtualizationType", "hvm"))
	kids = append(kids, optional("clientToken", inst.ClientToken)...)
	kids = append(kids, tagSet(inst.Tags), leaf("hypervisor", "xen"))
	if inst.live() {
		assoc := []xnode{}
		if inst.PublicIP != "" {
			assoc = []xnode{elem("association", leaf("publicIp", inst.PublicIP), leaf("publicDnsName", pubDNS), leaf("ipOwnerId", "amazon"))}
		}
		ni := []xnode{
			leaf("networkInterfaceId", inst.ENIID), leaf("subnetId", inst.SubnetID), leaf("vpcId", inst.VpcID), leaf("description", ""),
			leaf("ownerId", e.account), leaf("status", "in-use"), leaf("macAddress", inst.MAC), leaf("privateIpAddress", inst.PrivateIP),
			leaf("privateDnsName", privDNS), leaf("sourceDestCheck", true), set("groupSet", s.groupRefs(inst.GroupIDs)),
			elem("attachment", leaf("attachmentId", "eni-attach-"+inst.ENIID[4:]), leaf("deviceIndex", 0), leaf("status", "attached"),
				leaf("attachTime", inst.Launch), leaf("deleteOnTermination", true), leaf("networkCardIndex", 0)),
		}
		ni = append(ni, assoc...)
		ni = append(ni, set("privateIpAddressesSet", []xnode{item(append([]xnode{leaf("privateIpAddress", inst.PrivateIP),
			leaf("privateDnsName", privDNS), leaf("primary", true)}, assoc...)...)}), set("ipv6AddressesSet", nil), leaf("interfaceType", "interface"))
		kids = append(kids, set("networkInterfaceSet", []xnode{item(ni...)}))
	} else {
		kids = append(kids, set("networkInterfaceSet", nil))
	}
	if inst.IamProfileArn != "" {
		kids = append(kids, elem("iamInstanceProfile", leaf("arn", inst.IamProfileArn), leaf("id", "AIPA"+strings.ToUpper(randomHex(17)))))
	}
	kids = append(kids, leaf("ebsOptimized", inst.EbsOptimized), leaf("enaSupport", true),
		elem("cpuOptions", leaf("coreCount", max(1, itype.vcpu/2)), leaf("threadsPerCore", min(2, itype.vcpu))),
		elem("metadataOptions", leaf("state", "applied"), leaf("httpTokens", inst.HTTPTokens), leaf("httpPutResponseHopLimit", inst.HopLimit),
			leaf("httpEndpoint", inst.HTTPEndpoint), leaf("httpProtocolIpv6", "disabled"), leaf("instanceMetadataTags", inst.MetadataTags)),
		leaf("bootMode", "uefi-preferred"), leaf("platformDetails", "Linux/UNIX"), leaf("usageOperation", "RunInstances"),
		elem("privateDnsNameOptions", leaf("hostnameType", "ip-name"), leaf("enableResourceNameDnsARecord", false), leaf("enableResourceNameDnsAAAARecord", false)),
		leaf("currentInstanceBootMode", "legacy-bios"))
	return item(kids...)
}

var stateReasonText = map[string]string{
	"Client.UserInitiatedShutdown":   "User initiated shutdown",
	"Server.InternalError":           "Internal error on launch",
	"Server.SpotInstanceTermination": "Spot instance termination",
}

// purgeTerminated forgets instances terminated more than terminatedVisible
// ago. The caller holds s.mu.
func (s *Server) purgeTerminated(now time.Time) {
	for _, inst := range s.st.ec2.instances.all() {
		if inst.State == ec2Terminated && now.Sub(inst.terminatedAt) > terminatedVisible {
			s.st.ec2.instances.remove(inst)
		}
	}
}

// instanceFilters are DescribeInstances' filters.
func (s *Server) instanceFilters() fields[*ec2Instance] {
	return fields[*ec2Instance]{
		"instance-id": func(i *ec2Instance) []string { return one(i.ID) }, "instance-state-name": func(i *ec2Instance) []string { return one(i.State) },
		"instance-state-code": func(i *ec2Instance) []string { return one(strconv.Itoa(ec2StateCodes[i.State])) },
		"vpc-id":              func(i *ec2Instance) []string { return one(i.VpcID) }, "subnet-id": func(i *ec2Instance) []string { return one(i.SubnetID) },
		"image-id": func(i *ec2Instance) []string { return one(i.ImageID) }, "instance-type": func(i *ec2Instance) []string { return one(i.Type) },
		"key-name": func(i *ec2Instance) []string { return one(i.KeyName) }, "availability-zone": func(i *ec2Instance) []string { return one(i.Zone) },
		"private-ip-address": func(i *ec2Instance) []string { return one(i.PrivateIP) }, "ip-address": func(i *ec2Instance) []string { return one(i.PublicIP) },
		"instance.group-id": func(i *ec2Instance) []string { return i.GroupIDs }, "group-id": func(i *ec2Instance) []string { return i.GroupIDs },
		"reservation-id": func(i *ec2Instance) []string { return one(i.ReservationID) }, "client-token": func(i *ec2Instance) []string { return one(i.ClientToken) },
		"spot-instance-request-id": func(i *ec2Instance) []string { return one(i.SpotRequestID) },
		"instance-lifecycle": func(i *ec2Instance) []string {
			if i.SpotRequestID != "" {
				return one("spot")
			}
			return nil
		},
		"network-interface.network-interface-id": func(i *ec2Instance) []string { return one(i.ENIID) },
		"owner-id":                               func(*ec2Instance) []string { return one(s.st.ec2.account) },
	}
}

// instancesCall reads InstanceId.N and the filters, and returns the
// instances that match under s.mu, which the caller must release.
func (s *Server) instancesCall(c *ec2Call, needIDs bool) ([]*ec2Instance, []string, error) {
	ids, err := c.ids("InstanceId", "i", "InvalidInstanceID.Malformed")
	if err != nil {
		return nil, nil, err
	}
	if needIDs && len(ids) == 0 {
		return nil, nil, ec2Missing("InstanceId")
	}
	filters, err := c.filters()
	if err != nil {
		return nil, nil, err
	}
	match, err := keep(filters, s.instanceFilters())
	if err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	s.purgeTerminated(time.Now())
	var missing []string
	for _, id := range ids {
		if _, err := s.st.ec2.instances.find(c.region.Name, id); err != nil {
			missing = append(missing, id)
		}
	}
	if len(missing) == 1 {
		s.mu.Unlock()
		return nil, nil, ec2Errorf("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", missing[0])
	}
	if len(missing) > 1 {
		s.mu.Unlock()
		return nil, nil, ec2Errorf("InvalidInstanceID.NotFound", "The instance IDs '%s' do not exist", strings.Join(missing, ", "))
	}
	return s.st.ec2.instances.list(selector{region: c.region.Name, ids: ids}, match), ids, nil
}

func (s *Server) ec2DescribeInstances(c *ec2Call) ([]xnode, error) {
	list, _, err := s.instancesCall(c, false)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var order []string
	byRes := map[string][]*ec2Instance{}
	for _, inst := range list {
		if _, ok := byRes[inst.ReservationID]; !ok {
			order = append(order, inst.ReservationID)
		}
		byRes[inst.ReservationID] = append(byRes[inst.ReservationID], inst)
	}
	var items []xnode
	for _, r := range order {
		items = append(items, s.reservationView(r, byRes[r]))
	}
	return pagedSet(c, "reservationSet", items, 5, 1000)
}

func (s *Server) ec2DescribeInstanceStatus(c *ec2Call) ([]xnode, error) {
	all, err := c.p.ec2Bool("IncludeAllInstances", false)
	if err != nil {
		return nil, err
	}
	list, _, err := s.instancesCall(c, false)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var items []xnode
	for _, inst := range list {
		if !all && inst.State != ec2Running {
			continue
		}
		status := "not-applicable"
		if inst.State == ec2Running {
			status = "ok"
		}
		items = append(items, item(leaf("instanceId", inst.ID), leaf("availabilityZone", inst.Zone), stateNode("instanceState", inst.State),
			elem("systemStatus", leaf("status", status), set("details", []xnode{item(leaf("name", "reachability"), leaf("status", "passed"))})),
			elem("instanceStatus", leaf("status", status), set("details", []xnode{item(leaf("name", "reachability"), leaf("status", "passed"))}))))
	}
	return pagedSet(c, "instanceStatusSet", items, 5, 1000)
}

// stateChange is one item of the Start/Stop/Terminate answers.
func stateChange(id, before, after string) xnode {
	return item(leaf("instanceId", id), stateNode("currentState", after), stateNode("previousState", before))
}

// powerCall runs change on every instance of InstanceId.N, all checked
// first, and answers the state changes.
func (s *Server) powerCall(c *ec2Call, setName string, check func(*ec2Instance) error, change func(*ec2Instance)) ([]xnode, error) {
	list, ids, err := s.instancesCall(c, true)
	if err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	_ = ids
	for _, inst := range list {
		if err := check(inst); err != nil {
			return nil, err
		}
	}
	if err := c.dryRun(); err != nil {
		return nil, err
	}
	var items []xnode
	for _, inst := range list {
		before := inst.State
		change(inst)
		items = append(items, stateChange(inst.ID, before, inst.State))
	}
	if setName == "" {
		return []xnode{leaf("return", true)}, nil
	}
	return []xnode{set(setName, items)}, nil
}

func incorrectState(inst *ec2Instance, action string) error {
	return ec2Errorf("IncorrectInstanceState", "The instance '%s' is not in a state from which it can be %s.", inst.ID, action)
}

func (s *Server) ec2StartInstances(c *ec2Call) ([]xnode, error) {
	return s.powerCall(c, "instancesSet", func(inst *ec2Instance) error {
		if inst.State != ec2Stopped && inst.State != ec2Running && inst.State != ec2Pending {
			return incorrectState(inst, "started")
		}
		return nil
	}, func(inst *ec2Instance) {
		if inst.State != ec2Stopped {
			return
		}
		inst.State, inst.StateReason = ec2Pending, ""
		if inst.publicOnStart && inst.PublicIP == "" {
			if pub, err := s.takePublicLocked(); err == nil {
				inst.PublicIP = pub
				s.exposeLocked(pub, inst.ID)
			}
		}
		inst.op++
		id, op := inst.ID, inst.op
		s.goBackground(func(ctx context.Context) { s.bootFlow(ctx, id, op) })
	})
}

func (s *Server) ec2StopInstances(c *ec2Call) ([]xnode, error) {
	if _, err := c.p.ec2Bool("Force", false); err != nil {
		return nil, err
	}
	return s.powerCall(c, "instancesSet", func(inst *ec2Instance) error {
		if sr := s.st.ec2.spot.at(inst.SpotRequestID); sr != nil && sr.Type == "one-time" {
			return ec2Errorf("UnsupportedOperation", "You can't stop the Spot Instance '%s' because it is associated with a one-time Spot Instance request. You can only stop Spot Instances associated with persistent Spot Instance requests.", inst.ID)
		}
		if inst.State == ec2Terminated || inst.State == ec2ShuttingDown {
			return incorrectState(inst, "stopped")
		}
		return nil
	}, func(inst *ec2Instance) {
		if inst.State != ec2Running && inst.State != ec2Pending {
			return
		}
		inst.State = ec2Stopping
		inst.op++
		id, op := inst.ID, inst.op
		s.goBackground(func(ctx context.Context) { s.stopFlow(ctx, id, op, false) })
	})
}

func (s *Server) ec2RebootInstances(c *ec2Call) ([]xnode, error) {
	return s.powerCall(c, "", func(inst *ec2Instance) error {
		if inst.State != ec2Running {
			return incorrectState(inst, "rebooted")
		}
		return nil
	}, func(inst *ec2Instance) {
		inst.op++
		id, op := inst.ID, inst.op
		s.goBackground(func(ctx context.Context) { s.stopFlow(ctx, id, op, true) })
	})
}

func (s *Server) ec2TerminateInstances(c *ec2Call) ([]xnode, error) {
	return s.powerCall(c, "instancesSet", func(*ec2Instance) error { return nil }, func(inst *ec2Instance) {
		if !inst.live() || inst.State == ec2ShuttingDown {
			return
		}
		s.terminateLocked(inst, "Client.UserInitiatedShutdown")
	})
}

// terminateLocked moves an instance to shutting-down and deletes its host in
// the background; then it is terminated, its volumes deleted or detached.
func (s *Server) terminateLocked(inst *ec2Instance, reason string) {
	inst.State, inst.StateReason = ec2ShuttingDown, reason
	inst.op++
	s.dropPublicLocked(inst)
	id, op := inst.ID, inst.op
	s.goBackground(func(ctx context.Context) {
		err := s.backend.Delete(ctx, id)
		s.mu.Lock()
		defer s.mu.Unlock()
		cur := s.st.ec2.instances.at(id)
		if cur == nil || cur.op != op {
			return
		}
		if err != nil {
			s.log.Warn("cloudsim: deleting the host of a terminated EC2 instance failed", "instance", id, "err", err)
		}
		s.finishTerminateLocked(cur)
	})
}

func (s *Server) finishTerminateLocked(inst *ec2Instance) {
	e := s.st.ec2
	s.ips.Delete(inst.ID)
	if sn := e.subnets.at(inst.SubnetID); sn != nil {
		sn.releaseIP(inst.subnetIP)
	}
	for _, vid := range inst.VolumeIDs {
		v := e.volumes.at(vid)
		if v == nil || v.InstanceID != inst.ID {
			continue
		}
		if v.DeleteOnTermination {
			e.volumes.remove(v)
			continue
		}
		v.InstanceID, v.Device = "", ""
	}
	inst.State = ec2Terminated
	inst.terminatedAt = time.Now()
	if sr := e.spot.at(inst.SpotRequestID); sr != nil && sr.State == "active" {
		sr.State, sr.StatusCode = "closed", "instance-terminated-by-user"
	}
}

// dropPublicLocked returns an instance's public IP (not kept across a stop).
func (s *Server) dropPublicLocked(inst *ec2Instance) {
	if inst.PublicIP == "" {
		return
	}
	s.unexposeLocked(inst.PublicIP)
	s.st.publicAddrs.give(inst.PublicIP)
	inst.PublicIP = ""
}

// The power flows' view of an EC2 instance.

func (inst *ec2Instance) booted(s *Server, privateIP string, _ time.Time) {
	if privateIP != "" {
		inst.PrivateIP = privateIP
	}
	s.ips.Store(inst.ID, inst.PrivateIP)
	inst.State = ec2Running
}

func (inst *ec2Instance) bootFailed(s *Server) {
	inst.State, inst.StateReason = ec2Stopped, "Server.InternalError"
	s.dropPublicLocked(inst)
}

func (inst *ec2Instance) halted(s *Server) {
	inst.State, inst.StateReason = ec2Stopped, "Client.UserInitiatedShutdown"
	s.dropPublicLocked(inst)
}

func (inst *ec2Instance) haltFailed(*Server) { inst.State = ec2Running }

// restarting: a reboot shows no state change on EC2.
func (inst *ec2Instance) restarting(*Server) {}
