package aliyunecs

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"

	"github.com/fleetdock/machine/drivers/internal/rollback"
	"github.com/fleetdock/machine/drivers/internal/sshkey"
	"github.com/fleetdock/machine/libmachine/poll"
)

// PreCreateCheckContext is PreCreateCheck, stopped when ctx ends.
func (d *Driver) PreCreateCheckContext(ctx context.Context) error {
	a, err := d.api()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*actionTimeout)
	defer cancel()
	return d.prepare(ctx, a)
}

func (d *Driver) prepare(ctx context.Context, a *api) error {
	if d.prepared {
		return nil
	}
	if d.UpgradeKernel {
		d.log().Warn("--aliyunecs-upgrade-kernel is ignored: it only mattered for Ubuntu 14.04, and current images run Docker on their own kernel")
	}
	if d.PrivateIPOnly {
		d.log().Warn("the host gets no public address, so it reaches the internet only through a NAT gateway of its VPC; " +
			"without one, installing Docker fails unless --engine-install-url points at a mirror inside the VPC " +
			"(--aliyunecs-use-private-address keeps a public address for outbound traffic instead)")
	}
	if err := d.checkRegion(ctx, a); err != nil {
		return err
	}
	if err := d.resolveNetwork(ctx, a); err != nil {
		return err
	}
	if err := d.resolveImage(ctx, a); err != nil {
		return err
	}
	if err := d.checkSLB(ctx, a); err != nil {
		return err
	}
	if err := d.checkKeyPair(ctx, a); err != nil {
		return err
	}
	d.prepared = true
	return nil
}

func (d *Driver) checkRegion(ctx context.Context, a *api) error {
	regions, err := a.regions(ctx)
	if err != nil {
		return fmt.Errorf("checking region %q for machine %q: %w", d.Region, d.MachineName, err)
	}
	if !slices.Contains(regions, d.Region) {
		return fmt.Errorf("region %q is not available to this account; pass --aliyunecs-region (ECS_REGION) with one of: %s",
			d.Region, strings.Join(regions, ", "))
	}
	return nil
}

// resolveNetwork settles VPC, VSwitch and zone from whichever were given.
func (d *Driver) resolveNetwork(ctx context.Context, a *api) error {
	var list []vpc.VSwitch
	var err error
	var what string
	switch {
	case d.VSwitchId != "":
		what = "VSwitch " + d.VSwitchId
		list, err = a.vswitches(ctx, d.VSwitchId, "", "", false)
	case d.VpcId != "":
		what = "a VSwitch of VPC " + d.VpcId
		if d.Zone != "" {
			what += " in zone " + d.Zone
		}
		list, err = a.vswitches(ctx, "", d.VpcId, d.Zone, false)
	default:
		what = "a default VSwitch"
		if d.Zone != "" {
			what += " in zone " + d.Zone
		}
		list, err = a.vswitches(ctx, "", "", d.Zone, true)
	}
	if err != nil {
		return fmt.Errorf("looking for %s in region %s: %w", what, d.Region, err)
	}
	vs, ok := pickVSwitch(list)
	if !ok {
		hint := "pass --aliyunecs-vswitch-id, or --aliyunecs-vpc-id with --aliyunecs-zone"
		if d.VSwitchId != "" {
			hint = "check --aliyunecs-vswitch-id and --aliyunecs-region"
		}
		return fmt.Errorf("found no available %s in region %s; %s", what, d.Region, hint)
	}
	if d.VpcId != "" && vs.VpcId != d.VpcId {
		return fmt.Errorf("VSwitch %s belongs to VPC %s, not to --aliyunecs-vpc-id %s", vs.VSwitchId, vs.VpcId, d.VpcId)
	}
	if d.Zone != "" && vs.ZoneId != d.Zone {
		return fmt.Errorf("VSwitch %s is in zone %s, not in --aliyunecs-zone %s", vs.VSwitchId, vs.ZoneId, d.Zone)
	}
	d.VSwitchId, d.VpcId, d.Zone = vs.VSwitchId, vs.VpcId, vs.ZoneId
	if d.RouteCIDR != "" && d.RouteTableId == "" {
		d.RouteTableId = vs.RouteTable.RouteTableId
	}
	return nil
}

func (d *Driver) resolveImage(ctx context.Context, a *api) error {
	if d.ImageID != "" {
		ok, err := a.imageExists(ctx, d.ImageID)
		if err != nil {
			return fmt.Errorf("checking image %s: %w", d.ImageID, err)
		}
		if !ok {
			return fmt.Errorf("image %s does not exist in region %s; pass another --aliyunecs-image-id, or none for the newest Ubuntu LTS", d.ImageID, d.Region)
		}
		return nil
	}
	id, err := a.defaultImage(ctx)
	if err != nil {
		return fmt.Errorf("choosing the default image: %w", err)
	}
	d.ImageID = id
	d.log().Info("using the newest Ubuntu LTS image", "image", id)
	return nil
}

func (d *Driver) checkSLB(ctx context.Context, a *api) error {
	if d.SLBID == "" {
		return nil
	}
	lb, err := a.loadBalancer(ctx, d.SLBID)
	if err != nil {
		return fmt.Errorf("checking --aliyunecs-slb-id %s: %w", d.SLBID, err)
	}
	if lb == nil {
		return fmt.Errorf("load balancer %s does not exist in region %s; check --aliyunecs-slb-id (ECS_SLB_ID)", d.SLBID, d.Region)
	}
	if lb.VpcId != "" && lb.VpcId != d.VpcId {
		return fmt.Errorf("load balancer %s is in VPC %s but the machine would be in VPC %s; pass --aliyunecs-vpc-id %s", d.SLBID, lb.VpcId, d.VpcId, lb.VpcId)
	}
	d.SLBIPAddress = lb.Address
	return nil
}

func (d *Driver) checkKeyPair(ctx context.Context, a *api) error {
	if d.ExistingKeyPair {
		kp, err := a.keyPair(ctx, d.KeyPairName)
		if err != nil {
			return fmt.Errorf("checking key pair %q: %w", d.KeyPairName, err)
		}
		if kp == nil {
			return fmt.Errorf("key pair %q does not exist in region %s; check --aliyunecs-ssh-keypair", d.KeyPairName, d.Region)
		}
		return nil
	}
	d.KeyPairName = resourceName(d.MachineName)
	kp, err := a.keyPair(ctx, d.KeyPairName)
	if err != nil {
		return fmt.Errorf("checking key pair %q: %w", d.KeyPairName, err)
	}
	if kp != nil && !hasTag(ecsTags(kp.Tags.Tag), tagMachineID, d.MachineID) {
		return fmt.Errorf("a key pair named %q already exists in region %s; remove it (it may be left from an earlier machine of that name) or pass --aliyunecs-ssh-keypair %s with --aliyunecs-ssh-keypath",
			d.KeyPairName, d.Region, d.KeyPairName)
	}
	return nil
}

// CreateContext is Create, stopped when ctx ends; what was made is then
// removed on capability.CleanupContext(ctx).
func (d *Driver) CreateContext(parent context.Context) error {
	a, err := d.api()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(parent, createTimeout)
	defer cancel()
	start := time.Now()
	d.phases = nil
	if err := d.create(ctx, a); err != nil {
		return rollback.Undo(parent, removeTimeout, d.log(), d.MachineName, err,
			func(ctx context.Context) error { return d.teardown(ctx, a) })
	}
	d.log().Info("machine created", "instance", d.InstanceId, "ip", d.IPAddress, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func (d *Driver) create(ctx context.Context, a *api) error {
	step := func(name string, f func() error) error { return rollback.Step(d.log(), &d.phases, name, f) }
	if err := step("checking region, network, image and SLB", func() error { return d.prepare(ctx, a) }); err != nil {
		return err
	}
	if err := step("setting up the SSH key pair", func() error { return d.setupKey(ctx, a) }); err != nil {
		return err
	}
	if err := step("setting up security group "+d.SecurityGroupName, func() error { return d.setupSecurityGroup(ctx, a) }); err != nil {
		return err
	}
	if err := step("creating the instance", func() error { return d.runInstance(ctx, a) }); err != nil {
		return err
	}
	if err := step("booting the instance", func() error { return d.waitRunning(ctx, a) }); err != nil {
		return err
	}
	if d.RouteCIDR != "" {
		if err := step("routing "+d.RouteCIDR+" to the instance", func() error { return d.setupRoute(ctx, a) }); err != nil {
			return err
		}
	}
	if d.UseEIP && !d.PrivateIPOnly {
		if err := step("setting up the elastic IP", func() error { return d.setupEIP(ctx, a) }); err != nil {
			return err
		}
	}
	if d.SLBID != "" {
		if err := step("adding the instance to load balancer "+d.SLBID, func() error {
			if err := a.addBackend(ctx, d.SLBID, d.InstanceId, d.SLBWeight); err != nil {
				return err
			}
			d.SLBBackendAdded = true
			return nil
		}); err != nil {
			return err
		}
	}
	if d.DiskSize > 0 {
		d.AttachedDisk = &DataDisk{Device: dataDiskDevice, FS: d.DiskFS}
	}
	return nil
}

// token is the ClientToken of one create operation of this machine: the
// same on every retry, so a repeated call never makes a second resource.
func (d *Driver) token(op string) string {
	t := "dm-" + d.MachineID + "-" + op
	if len(t) > 64 {
		t = t[:64]
	}
	return t
}

// machineTags are docker-machine's own tags plus the user's.
func (d *Driver) machineTags() map[string]string {
	tags := map[string]string{tagMachineID: d.MachineID}
	if d.MachineName != "" { // empty when preparing what machines share
		tags[tagMachineName] = d.MachineName
	}
	for k, v := range d.Tags {
		tags[k] = v
	}
	return tags
}

func (d *Driver) setupKey(ctx context.Context, a *api) error {
	pub, err := sshkey.Setup("aliyunecs-ssh-keypath", d.SSHKey, d.GetSSHKeyPath(), d.ExistingKeyPair, readPublicKey, generateKey)
	if err != nil || d.ExistingKeyPair {
		return err
	}
	req := ecs.CreateImportKeyPairRequest()
	req.KeyPairName = d.KeyPairName
	req.PublicKeyBody = strings.TrimSpace(string(pub))
	req.ResourceGroupId = d.ResourceGroupId
	var tags []ecs.ImportKeyPairTag
	for _, k := range sortedKeys(d.machineTags()) {
		tags = append(tags, ecs.ImportKeyPairTag{Key: k, Value: d.machineTags()[k]})
	}
	req.Tag = &tags
	err = a.call(ctx, &a.ecs.Client, req, ecs.CreateImportKeyPairResponse())
	if err != nil && errorCode(err) == "KeyPair.AlreadyExist" {
		// An earlier attempt of this very call may have succeeded.
		if kp, lerr := a.keyPair(ctx, d.KeyPairName); lerr == nil && kp != nil && hasTag(ecsTags(kp.Tags.Tag), tagMachineID, d.MachineID) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("importing key pair %q: %w", d.KeyPairName, err)
	}
	d.KeyPairCreated = true
	return nil
}

func (d *Driver) setupSecurityGroup(ctx context.Context, a *api) error {
	var existing []ecs.Permission
	if d.SecurityGroupId == "" {
		if err := d.findOrMakeSecurityGroup(ctx, a); err != nil {
			return err
		}
	}
	if !d.SecurityGroupCreated {
		rules, err := a.ingressRules(ctx, d.SecurityGroupId)
		if err != nil {
			return fmt.Errorf("reading the rules of security group %s: %w", d.SecurityGroupId, err)
		}
		existing = rules
	}
	type rule struct{ proto, ports, source string }
	var want []rule
	for _, r := range d.inboundRules() {
		want = append(want, rule{r.Proto, portRange(r), d.SourceCIDR})
	}
	if d.RouteCIDR != "" {
		// Containers of other hosts reach this one from their bridge
		// networks; with one shared group every host's CIDR is allowed.
		want = append(want, rule{"all", "-1/-1", d.RouteCIDR})
	}
	for i, w := range want {
		if slices.ContainsFunc(existing, func(p ecs.Permission) bool {
			return strings.EqualFold(p.IpProtocol, w.proto) && p.PortRange == w.ports && p.SourceCidrIp == w.source &&
				(p.Policy == "" || strings.EqualFold(p.Policy, "accept")) && (p.Direction == "" || p.Direction == "ingress")
		}) {
			continue
		}
		req := ecs.CreateAuthorizeSecurityGroupRequest()
		req.SecurityGroupId = d.SecurityGroupId
		req.IpProtocol = w.proto
		req.PortRange = w.ports
		req.SourceCidrIp = w.source
		req.Policy = "accept"
		req.NicType = "intranet"
		req.Description = "docker-machine"
		req.ClientToken = d.token("rule-" + strconv.Itoa(i))
		if err := a.call(ctx, &a.ecs.Client, req, ecs.CreateAuthorizeSecurityGroupResponse()); err != nil && !strings.Contains(errorCode(err), "Duplicate") {
			return fmt.Errorf("opening %s %s from %s in security group %s: %w", w.proto, w.ports, w.source, d.SecurityGroupId, err)
		}
	}
	return nil
}

func (d *Driver) runInstance(ctx context.Context, a *api) error {
	req := ecs.CreateRunInstancesRequest()
	req.ZoneId = d.Zone
	req.ImageId = d.ImageID
	req.InstanceType = d.InstanceType
	req.SecurityGroupId = d.SecurityGroupId
	req.VSwitchId = d.VSwitchId
	req.InstanceName = resourceName(d.MachineName)
	req.Description = d.Description
	if req.Description == "" {
		req.Description = "docker-machine host " + d.MachineName
	}
	req.InstanceChargeType = "PostPaid"
	req.InternetChargeType = d.InternetChargeType
	if !d.PrivateIPOnly && !d.UseEIP {
		req.InternetMaxBandwidthOut = requests.NewInteger(d.InternetMaxBandwidthOut)
	} else {
		req.InternetMaxBandwidthOut = requests.NewInteger(0)
	}
	req.KeyPairName = d.KeyPairName
	req.Password = d.SSHPassword
	req.SystemDiskSize = strconv.Itoa(d.SystemDiskSize)
	req.SystemDiskCategory = d.SystemDiskCategory
	if d.DiskSize > 0 {
		req.DataDisk = &[]ecs.RunInstancesDataDisk{{
			Size:               strconv.Itoa(d.DiskSize),
			Category:           d.DiskCategory,
			DiskName:           resourceName(d.MachineName) + "-docker",
			Description:        "/var/lib/docker of docker-machine host " + d.MachineName,
			DeleteWithInstance: "true",
		}}
	}
	req.IoOptimized = d.IoOptimized
	req.PrivateIpAddress = d.RequestedPrivateIP
	req.ResourceGroupId = d.ResourceGroupId
	if d.UserDataFile != "" {
		data, err := os.ReadFile(d.UserDataFile)
		if err != nil {
			return fmt.Errorf("reading --aliyunecs-userdata: %w", err)
		}
		req.UserData = base64.StdEncoding.EncodeToString(data)
	}
	var tags []ecs.RunInstancesTag
	mt := d.machineTags()
	for _, k := range sortedKeys(mt) {
		tags = append(tags, ecs.RunInstancesTag{Key: k, Value: mt[k]})
	}
	req.Tag = &tags
	req.Amount = requests.NewInteger(1)
	req.ClientToken = d.token("run")
	resp := ecs.CreateRunInstancesResponse()
	if err := a.call(ctx, &a.ecs.Client, req, resp); err != nil {
		return fmt.Errorf("instance type %s, image %s, zone %s: %w", d.InstanceType, d.ImageID, d.Zone, err)
	}
	ids := resp.InstanceIdSets.InstanceIdSet
	if len(ids) == 0 || ids[0] == "" {
		return errors.New("RunInstances answered without an instance ID")
	}
	d.InstanceId = ids[0]
	// The password has done its job; drop it from memory.
	d.SSHPassword = ""
	d.log().Info("instance created", "instance", d.InstanceId)
	return nil
}

func (d *Driver) waitRunning(ctx context.Context, a *api) error {
	needAddress := !d.UseEIP || d.PrivateIPOnly
	booted := false
	err := a.waitFor(ctx, fmt.Sprintf("instance %s to be running", d.InstanceId), instanceTimeout, func(ctx context.Context) (bool, string, error) {
		inst, err := a.findInstance(ctx, d.InstanceId)
		if err != nil {
			return false, "", err
		}
		if inst == nil {
			return false, "", fmt.Errorf("instance %s: %w", d.InstanceId, errInstanceGone)
		}
		d.recordAddresses(inst)
		if inst.Status == "Stopped" && booted {
			// Started, then stopped by itself: it failed to boot, and
			// waiting longer will not make it run.
			return false, "", poll.Permanent(fmt.Errorf("instance %s stopped while it was booting; check its console log in the ECS console, then run the create again", d.InstanceId))
		}
		if inst.Status == "Starting" || inst.Status == "Running" {
			booted = true
		}
		if inst.Status != "Running" {
			return false, "status " + inst.Status, nil
		}
		if needAddress && d.connectIP() == "" {
			return false, "running, no " + d.addressKind() + " IP yet", nil
		}
		return true, "", nil
	})
	return err
}

func (d *Driver) setupRoute(ctx context.Context, a *api) error {
	if d.RouteTableId == "" {
		id, err := a.routeTableID(ctx, d.VpcId)
		if err != nil {
			return fmt.Errorf("finding the route table of VPC %s: %w", d.VpcId, err)
		}
		d.RouteTableId = id
	}
	return a.createRouteEntry(ctx, d.RouteTableId, d.RouteCIDR, d.InstanceId, d.token("route"), resourceName(d.MachineName))
}

func (d *Driver) setupEIP(ctx context.Context, a *api) error {
	id, ip, err := a.allocateEIP(ctx, d.InternetMaxBandwidthOut, d.InternetChargeType, d.ResourceGroupId, d.token("eip"), resourceName(d.MachineName))
	if err != nil {
		return fmt.Errorf("allocating an EIP: %w", err)
	}
	d.EIPAllocationId, d.EIPAddress = id, ip
	if err := a.tagEIP(ctx, id, d.machineTags()); err != nil {
		return fmt.Errorf("tagging EIP %s: %w", id, err)
	}
	e, err := a.associateEIP(ctx, id, d.InstanceId, d.token("eip-assoc"))
	if err != nil {
		return fmt.Errorf("associating EIP %s with instance %s: %w", id, d.InstanceId, err)
	}
	if e != nil && e.IpAddress != "" {
		d.EIPAddress = e.IpAddress
	}
	d.IPAddress = d.connectIP()
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
