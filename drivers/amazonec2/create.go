package amazonec2

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/fleetdock/machine/drivers/internal/rollback"
	"github.com/fleetdock/machine/drivers/internal/sshkey"
)

// PreCreateCheckContext is PreCreateCheck bounded by ctx.
func (d *Driver) PreCreateCheckContext(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*actionTimeout)
	defer cancel()
	a, err := d.api(ctx)
	if err != nil {
		return err
	}
	return d.prepare(ctx, a)
}

func (d *Driver) prepare(ctx context.Context, a *api) error {
	if d.prepared {
		return nil
	}
	if !d.RequestSpotInstance && d.SpotPrice != defaultSpotPrice {
		d.log().Warn("--amazonec2-spot-price is ignored without --amazonec2-request-spot-instance")
	}
	if d.BlockDurationMinutes != 0 {
		d.log().Warn("--amazonec2-block-duration-minutes is ignored: AWS no longer offers spot blocks")
	}
	if d.PrivateIPOnly {
		d.log().Warn("the host gets no public address, so it reaches the internet only through a NAT gateway of its VPC; " +
			"--amazonec2-use-private-address keeps a public address for outbound traffic instead")
	}
	if err := d.resolveNetwork(ctx, a); err != nil {
		return err
	}
	if err := d.resolveImage(ctx, a); err != nil {
		return err
	}
	if err := d.resolveEncryption(ctx, a); err != nil {
		return err
	}
	if d.ExistingKey {
		kp, err := a.keyPair(ctx, d.KeyName)
		if err != nil {
			return fmt.Errorf("checking key pair %q: %w", d.KeyName, err)
		}
		if kp == nil {
			return fmt.Errorf("key pair %q does not exist in region %s; check --amazonec2-keypair-name (AWS_KEYPAIR_NAME)", d.KeyName, d.Region)
		}
	}
	d.prepared = true
	return nil
}

// resolveNetwork settles VPC, subnet and zone from whichever were given.
func (d *Driver) resolveNetwork(ctx context.Context, a *api) error {
	if d.SubnetId != "" {
		list, err := a.subnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{d.SubnetId}})
		if err != nil {
			return fmt.Errorf("looking up subnet %s: %w", d.SubnetId, err)
		}
		if len(list) == 0 {
			return fmt.Errorf("the desired subnet could not be located in region %s; check '--amazonec2-subnet-id' (AWS_SUBNET_ID) and --amazonec2-region", d.Region)
		}
		s := list[0]
		if d.VpcId != "" && deref(s.VpcId) != d.VpcId {
			return fmt.Errorf("subnet %s belongs to VPC %s, not to --amazonec2-vpc-id %s", d.SubnetId, deref(s.VpcId), d.VpcId)
		}
		d.VpcId = deref(s.VpcId)
		if az := deref(s.AvailabilityZone); az != "" && az != d.regionZone() {
			d.log().Debug("using the subnet's zone", "subnet", d.SubnetId, "zone", az)
			d.Zone = az
		}
		return nil
	}
	if d.VpcId == "" {
		id, err := a.defaultVPC(ctx)
		if err != nil {
			return fmt.Errorf("looking up the default VPC of region %s: %w", d.Region, err)
		}
		if id == "" {
			return fmt.Errorf("the account has no default VPC in region %s; pass --amazonec2-vpc-id or --amazonec2-subnet-id", d.Region)
		}
		d.VpcId = id
	}
	zone := d.regionZone()
	list, err := a.subnets(ctx, &ec2.DescribeSubnetsInput{Filters: []types.Filter{
		filter("availability-zone", zone), filter("vpc-id", d.VpcId), filter("state", "available"),
	}})
	if err != nil {
		return fmt.Errorf("looking for a subnet of VPC %s in zone %s: %w", d.VpcId, zone, err)
	}
	if len(list) == 0 {
		return fmt.Errorf("unable to find a subnet of VPC %s in zone %s; pass --amazonec2-subnet-id, or another --amazonec2-zone", d.VpcId, zone)
	}
	best := list[0]
	for _, s := range list {
		if deref(s.DefaultForAz) {
			best = s
			break
		}
	}
	d.SubnetId = deref(best.SubnetId)
	return nil
}

func (d *Driver) resolveImage(ctx context.Context, a *api) error {
	var img *types.Image
	var err error
	if d.AMI != "" {
		if img, err = a.image(ctx, d.AMI); err != nil {
			return fmt.Errorf("looking up AMI %s: %w", d.AMI, err)
		}
		if img == nil {
			return fmt.Errorf("AMI %s not found in region %s; check --amazonec2-ami (AWS_AMI), or leave it out for the newest Ubuntu LTS", d.AMI, d.Region)
		}
	} else {
		arch := architecture(d.InstanceType)
		if img, err = a.newestUbuntuLTS(ctx, arch); err != nil {
			return fmt.Errorf("looking for the newest Ubuntu LTS image: %w", err)
		}
		if img == nil {
			return fmt.Errorf("found no Ubuntu LTS image of Canonical (%s) for %s in region %s; pass --amazonec2-ami", canonicalOwner, arch, d.Region)
		}
		d.AMI = deref(img.ImageId)
		d.log().Info("using the newest Ubuntu LTS image", "ami", d.AMI, "name", deref(img.Name))
	}
	if img.State != "" && img.State != types.ImageStateAvailable {
		return fmt.Errorf("AMI %s is %s, not available; pass another --amazonec2-ami", d.AMI, img.State)
	}
	root := deref(img.RootDeviceName)
	if d.DeviceName == "" {
		d.DeviceName = root
	}
	if d.DeviceName == "" {
		return fmt.Errorf("AMI %s names no root device; pass --amazonec2-device-name", d.AMI)
	}
	d.instanceStoreRoot = img.RootDeviceType == types.DeviceTypeInstanceStore
	for _, m := range img.BlockDeviceMappings {
		if deref(m.DeviceName) == d.DeviceName && m.Ebs != nil {
			if size := int64(deref(m.Ebs.VolumeSize)); size > d.RootSize {
				return fmt.Errorf("AMI %s needs a root volume of at least %d GB; pass --amazonec2-root-size %d or more", d.AMI, size, size)
			}
		}
	}
	return nil
}

// resolveEncryption decides whether the root volume is encrypted: when asked,
// or when the account encrypts new EBS volumes by default.
func (d *Driver) resolveEncryption(ctx context.Context, a *api) error {
	if d.EncryptEbsVolume {
		d.RootVolumeEncrypted = true
		return nil
	}
	out, err := a.ec2.GetEbsEncryptionByDefault(ctx, &ec2.GetEbsEncryptionByDefaultInput{})
	if err != nil {
		if errorCode(err) == "UnauthorizedOperation" {
			// The account default still applies on AWS's side.
			d.log().Debug("cannot read the account's EBS encryption default; leaving it to AWS", "err", err)
			return nil
		}
		return fmt.Errorf("reading the account's EBS encryption default: %w", err)
	}
	d.RootVolumeEncrypted = deref(out.EbsEncryptionByDefault)
	return nil
}

// CreateContext is Create bounded by ctx. If any step fails, what was made
// so far is removed again, in reverse order, even when ctx was cancelled;
// if that also fails, the error lists what is left and the IDs stay stored
// for rm.
func (d *Driver) CreateContext(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, createTimeout)
	defer cancel()
	a, err := d.api(cctx)
	if err != nil {
		return err
	}
	start := time.Now()
	d.phases = nil
	if err := d.create(cctx, a); err != nil {
		return rollback.Undo(ctx, removeTimeout, d.log(), d.MachineName, err,
			func(ctx context.Context) error { return d.teardown(ctx, a) })
	}
	d.log().Info("machine created", "instance", d.InstanceId, "ip", d.IPAddress, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func (d *Driver) create(ctx context.Context, a *api) error {
	step := func(name string, f func() error) error { return rollback.Step(d.log(), &d.phases, name, f) }
	if err := step("checking network, image and encryption", func() error { return d.prepare(ctx, a) }); err != nil {
		return err
	}
	if err := step("setting up the SSH key pair", func() error { return d.setupKey(ctx, a) }); err != nil {
		return err
	}
	if err := step("setting up the security groups", func() error { return d.setupSecurityGroups(ctx, a) }); err != nil {
		return err
	}
	if err := step("launching the instance", func() error { return d.runInstanceInSharedGroups(ctx, a) }); err != nil {
		return err
	}
	return step("waiting for the instance to run", func() error { return d.waitRunning(ctx, a) })
}

// token is the ClientToken of one create operation of this machine: the
// same on every retry, so a repeated call never makes a second resource.
func (d *Driver) token(op string) string {
	t := "docker-machine-" + d.Id + "-" + op
	if len(t) > 64 {
		t = t[:64]
	}
	return t
}

// machineTags are the Name tag, docker-machine's own tags and the user's.
func (d *Driver) machineTags(extra ...tag) []types.Tag {
	list := []tag{{"Name", d.MachineName}, {tagMachineID, d.Id}, {tagMachineName, d.MachineName}}
	user, _ := parseTags(d.Tags)
	for _, t := range append(user, extra...) {
		if i := slices.IndexFunc(list, func(x tag) bool { return x.Key == t.Key }); i >= 0 {
			list[i] = t
		} else {
			list = append(list, t)
		}
	}
	out := make([]types.Tag, len(list))
	for i, t := range list {
		out[i] = types.Tag{Key: ptr(t.Key), Value: ptr(t.Value)}
	}
	return out
}

func tagSpec(resource types.ResourceType, tags []types.Tag) types.TagSpecification {
	return types.TagSpecification{ResourceType: resource, Tags: tags}
}

// keyPairName is unique per machine: a key left over from another machine
// of the same name can never be taken for this one's.
func (d *Driver) keyPairName() string {
	id := d.Id
	if len(id) > 10 {
		id = id[:10]
	}
	return d.MachineName + "-" + id
}

func (d *Driver) setupKey(ctx context.Context, a *api) error {
	pub, err := sshkey.Setup("amazonec2-ssh-keypath", d.SSHPrivateKeyPath, d.GetSSHKeyPath(), d.ExistingKey, readPublicKey, generateKey)
	if err != nil || d.ExistingKey {
		return err
	}
	name := d.keyPairName()
	_, err = a.ec2.ImportKeyPair(ctx, &ec2.ImportKeyPairInput{
		KeyName:           ptr(name),
		PublicKeyMaterial: pub,
		TagSpecifications: []types.TagSpecification{tagSpec(types.ResourceTypeKeyPair, d.machineTags())},
	})
	if err != nil && errorCode(err) == "InvalidKeyPair.Duplicate" {
		// An earlier attempt of this very call may have succeeded.
		if kp, lerr := a.keyPair(ctx, name); lerr == nil && kp != nil && hasTag(kp.Tags, tagMachineID, d.Id) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("importing key pair %q: %w", name, err)
	}
	d.KeyName = name
	d.log().Info("imported key pair", "name", name)
	return nil
}

// setupSecurityGroups finds the groups given by id, finds or creates the
// groups given by name, and adds the rules the host needs to those it may
// change.
func (d *Driver) setupSecurityGroups(ctx context.Context, a *api) error {
	var groups []types.SecurityGroup
	if len(d.GivenSecurityGroupIds) > 0 {
		found, err := a.securityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{filter("group-id", d.GivenSecurityGroupIds...)}})
		if err != nil {
			return fmt.Errorf("looking up security groups %s: %w", strings.Join(d.GivenSecurityGroupIds, ", "), err)
		}
		for _, id := range d.GivenSecurityGroupIds {
			i := slices.IndexFunc(found, func(g types.SecurityGroup) bool { return deref(g.GroupId) == id })
			if i < 0 {
				return fmt.Errorf("security group %s does not exist in region %s; check --amazonec2-security-group-id", id, d.Region)
			}
			if vpc := deref(found[i].VpcId); vpc != d.VpcId {
				return fmt.Errorf("security group %s is in VPC %s, but the machine is in VPC %s; pass a group of that VPC", id, vpc, d.VpcId)
			}
			groups = append(groups, found[i])
		}
	}
	if len(d.SecurityGroupNames) > 0 {
		found, err := d.groupsByName(ctx, a)
		if err != nil {
			return err
		}
		for _, name := range d.SecurityGroupNames {
			i := slices.IndexFunc(found, func(g types.SecurityGroup) bool { return deref(g.GroupName) == name })
			if i >= 0 {
				d.log().Debug("using existing security group", "group", deref(found[i].GroupId), "name", name)
				groups = append(groups, found[i])
				continue
			}
			g, err := d.createSecurityGroup(ctx, a, name)
			if err != nil {
				return err
			}
			groups = append(groups, g)
		}
	}
	d.SecurityGroupIds = nil
	for _, g := range groups {
		if id := deref(g.GroupId); !slices.Contains(d.SecurityGroupIds, id) {
			d.SecurityGroupIds = append(d.SecurityGroupIds, id)
		}
	}
	for _, g := range groups {
		created := slices.Contains(d.CreatedSecurityGroupIds, deref(g.GroupId))
		if d.SecurityGroupReadOnly && !created {
			continue
		}
		if err := d.authorize(ctx, a, g, created); err != nil {
			return err
		}
	}
	return nil
}

func (d *Driver) groupsByName(ctx context.Context, a *api) ([]types.SecurityGroup, error) {
	found, err := a.securityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{
		filter("group-name", d.SecurityGroupNames...), filter("vpc-id", d.VpcId),
	}})
	if err != nil {
		return nil, fmt.Errorf("looking for security groups %s in VPC %s: %w", strings.Join(d.SecurityGroupNames, ", "), d.VpcId, err)
	}
	return found, nil
}

func (d *Driver) createSecurityGroup(ctx context.Context, a *api, name string) (types.SecurityGroup, error) {
	out, err := a.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
		GroupName:         ptr(name),
		Description:       ptr("Docker Machine"),
		VpcId:             ptr(d.VpcId),
		TagSpecifications: []types.TagSpecification{tagSpec(types.ResourceTypeSecurityGroup, d.machineTags(tag{"Name", name}, tag{tagManaged, "true"}))},
	})
	if err != nil && errorCode(err) == "InvalidGroup.Duplicate" {
		// Made meanwhile: by an earlier attempt of this call whose answer
		// was lost (ours, by its tag), or by another create (shared).
		g, lerr := d.duplicateGroup(ctx, a, name)
		if lerr != nil {
			return types.SecurityGroup{}, fmt.Errorf("creating security group %q in VPC %s: %w; looking it up: %w", name, d.VpcId, err, lerr)
		}
		if hasTag(g.Tags, tagMachineID, d.Id) {
			d.CreatedSecurityGroupIds = append(d.CreatedSecurityGroupIds, deref(g.GroupId))
		} else {
			d.log().Info("another create made security group "+name+" first; using it", "group", deref(g.GroupId))
		}
		return g, nil
	}
	if err != nil {
		return types.SecurityGroup{}, fmt.Errorf("creating security group %q in VPC %s: %w", name, d.VpcId, err)
	}
	id := deref(out.GroupId)
	d.CreatedSecurityGroupIds = append(d.CreatedSecurityGroupIds, id)
	d.log().Info("created security group", "group", id, "name", name)
	return types.SecurityGroup{GroupId: ptr(id), GroupName: ptr(name), VpcId: ptr(d.VpcId)}, nil
}

// authorize adds the inbound rules the group lacks. A port that an
// existing rule of the group already opens, from any source, is left
// alone, as the stock driver does.
func (d *Driver) authorize(ctx context.Context, a *api, g types.SecurityGroup, fresh bool) error {
	var perms []types.IpPermission
	for _, r := range d.inboundRules() {
		if opens(g.IpPermissions, r) {
			continue
		}
		p := types.IpPermission{IpProtocol: ptr(r.Proto), FromPort: ptr(int32(r.From)), ToPort: ptr(int32(r.To))}
		for _, c := range d.SourceCIDRs {
			if strings.Contains(c, ":") {
				p.Ipv6Ranges = append(p.Ipv6Ranges, types.Ipv6Range{CidrIpv6: ptr(c), Description: ptr("docker-machine")})
			} else {
				p.IpRanges = append(p.IpRanges, types.IpRange{CidrIp: ptr(c), Description: ptr("docker-machine")})
			}
		}
		perms = append(perms, p)
	}
	if len(perms) == 0 {
		return nil
	}
	id := deref(g.GroupId)
	send := func(perms []types.IpPermission) error {
		// A group just created may not be visible to this call yet.
		return retryWhile(ctx, "security group "+id+" to be visible", fresh, []string{"InvalidGroup.NotFound"}, func() error {
			_, err := a.ec2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: ptr(id), IpPermissions: perms})
			return err
		})
	}
	err := send(perms)
	if errorCode(err) == "InvalidPermission.Duplicate" {
		// Another create added some of them meanwhile: add the rest one by one.
		err = nil
		for _, p := range perms {
			if e := send([]types.IpPermission{p}); e != nil && errorCode(e) != "InvalidPermission.Duplicate" {
				err = e
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("opening ports in security group %s: %w", id, err)
	}
	return nil
}

// opens reports whether a permission of the group already opens r.
func opens(perms []types.IpPermission, r portRule) bool {
	for _, p := range perms {
		proto := deref(p.IpProtocol)
		if proto == "-1" || proto == "all" {
			return true
		}
		if proto == r.Proto || proto == map[string]string{"tcp": "6", "udp": "17"}[r.Proto] {
			if p.FromPort != nil && p.ToPort != nil && *p.FromPort <= int32(r.From) && *p.ToPort >= int32(r.To) {
				return true
			}
		}
	}
	return false
}

// retryWhile repeats call while it fails with one of codes, which happens
// while a resource just made is not yet visible everywhere (EC2 is
// eventually consistent). It only does so when enabled.
func retryWhile(ctx context.Context, what string, enabled bool, codes []string, call func() error) error {
	if !enabled {
		return call()
	}
	var last error
	err := waitFor(ctx, what, resourceTimeout, func(context.Context) (bool, string, error) {
		last = call()
		switch {
		case last == nil:
			return true, "", nil
		case slices.Contains(codes, errorCode(last)):
			return false, errorCode(last), nil
		}
		return false, "", errStopRetrying
	})
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil && last != nil:
		return fmt.Errorf("%w (last answer: %v)", ctx.Err(), last)
	case last != nil:
		return last
	}
	return err
}

var errStopRetrying = errors.New("not retryable")

func (d *Driver) runInstance(ctx context.Context, a *api) error {
	tags := d.machineTags()
	specs := []types.TagSpecification{
		tagSpec(types.ResourceTypeInstance, tags),
		tagSpec(types.ResourceTypeVolume, tags),
		tagSpec(types.ResourceTypeNetworkInterface, tags),
	}
	ni := types.InstanceNetworkInterfaceSpecification{
		DeviceIndex:              ptr(int32(0)),
		SubnetId:                 ptr(d.SubnetId),
		Groups:                   d.securityGroupIds(),
		AssociatePublicIpAddress: ptr(!d.PrivateIPOnly && !d.Ipv6AddressOnly),
		DeleteOnTermination:      ptr(true),
	}
	if d.Ipv6AddressCount > 0 {
		ni.Ipv6AddressCount = ptr(d.Ipv6AddressCount)
		if d.EnablePrimaryIpv6 {
			ni.PrimaryIpv6 = ptr(true)
		}
	}
	in := &ec2.RunInstancesInput{
		ImageId:           ptr(d.AMI),
		InstanceType:      types.InstanceType(d.InstanceType),
		MinCount:          ptr(int32(1)),
		MaxCount:          ptr(int32(1)),
		KeyName:           ptr(d.KeyName),
		ClientToken:       ptr(d.token("run")),
		NetworkInterfaces: []types.InstanceNetworkInterfaceSpecification{ni},
		MetadataOptions:   &types.InstanceMetadataOptionsRequest{HttpTokens: types.HttpTokensState(d.HttpTokens)},
	}
	if d.HttpEndpoint != "" {
		in.MetadataOptions.HttpEndpoint = types.InstanceMetadataEndpointState(d.HttpEndpoint)
	}
	if d.HttpProtocolIpv6 != "" {
		in.MetadataOptions.HttpProtocolIpv6 = types.InstanceMetadataProtocolState(d.HttpProtocolIpv6)
	}
	if !d.instanceStoreRoot {
		ebs := &types.EbsBlockDevice{
			VolumeSize:          ptr(int32(d.RootSize)),
			VolumeType:          types.VolumeType(d.VolumeType),
			DeleteOnTermination: ptr(true),
		}
		if d.RootVolumeEncrypted {
			ebs.Encrypted = ptr(true)
		}
		if d.KmsKeyId != "" {
			ebs.KmsKeyId = ptr(d.KmsKeyId)
		}
		if d.VolumeIops > 0 {
			ebs.Iops = ptr(d.VolumeIops)
		}
		if d.VolumeThroughput > 0 {
			ebs.Throughput = ptr(d.VolumeThroughput)
		}
		in.BlockDeviceMappings = []types.BlockDeviceMapping{{DeviceName: ptr(d.DeviceName), Ebs: ebs}}
	} else {
		d.log().Warn("the AMI's root device is an instance store: --amazonec2-root-size, --amazonec2-volume-type and encryption do not apply", "ami", d.AMI)
	}
	if d.IamInstanceProfile != "" {
		if strings.HasPrefix(d.IamInstanceProfile, "arn:") {
			in.IamInstanceProfile = &types.IamInstanceProfileSpecification{Arn: ptr(d.IamInstanceProfile)}
		} else {
			in.IamInstanceProfile = &types.IamInstanceProfileSpecification{Name: ptr(d.IamInstanceProfile)}
		}
	}
	if d.UseEbsOptimizedInstance {
		in.EbsOptimized = ptr(true)
	}
	if d.Monitoring {
		in.Monitoring = &types.RunInstancesMonitoringEnabled{Enabled: ptr(true)}
	}
	if d.UserDataFile != "" {
		data, err := os.ReadFile(d.UserDataFile)
		if err != nil {
			return fmt.Errorf("unable to read --amazonec2-userdata file: %w", err)
		}
		in.UserData = ptr(base64.StdEncoding.EncodeToString(data))
	}
	if d.RequestSpotInstance {
		in.InstanceMarketOptions = &types.InstanceMarketOptionsRequest{
			MarketType: types.MarketTypeSpot,
			SpotOptions: &types.SpotMarketOptions{
				MaxPrice:                     ptr(d.SpotPrice),
				SpotInstanceType:             types.SpotInstanceTypeOneTime,
				InstanceInterruptionBehavior: types.InstanceInterruptionBehaviorTerminate,
			},
		}
		specs = append(specs, tagSpec(types.ResourceTypeSpotInstancesRequest, tags))
	}
	in.TagSpecifications = specs

	var out *ec2.RunInstancesOutput
	// A key pair or group just made may not be visible to RunInstances yet
	// (EC2 is eventually consistent); one given by the user that is not
	// found is an error at once. The ClientToken makes the repeats safe.
	var notYet []string
	if !d.ExistingKey {
		notYet = append(notYet, "InvalidKeyPair.NotFound")
	}
	if len(d.CreatedSecurityGroupIds) > 0 {
		notYet = append(notYet, "InvalidGroup.NotFound")
	}
	err := retryWhile(ctx, "the new key pair and security groups to be visible", len(notYet) > 0, notYet, func() error {
		var err error
		out, err = a.ec2.RunInstances(ctx, in)
		return err
	})
	if err != nil {
		hint := ""
		switch errorCode(err) {
		case "InsufficientInstanceCapacity":
			hint = "; try another --amazonec2-zone or --amazonec2-instance-type"
		case "SpotMaxPriceTooLow":
			hint = "; raise --amazonec2-spot-price"
		case "InvalidParameterCombination":
			hint = "; check the volume, IPv6 and metadata flags against the instance type and AMI"
		}
		return fmt.Errorf("instance type %s, AMI %s, subnet %s: %w%s", d.InstanceType, d.AMI, d.SubnetId, err, hint)
	}
	if len(out.Instances) == 0 || deref(out.Instances[0].InstanceId) == "" {
		return errors.New("RunInstances answered without an instance")
	}
	inst := out.Instances[0]
	d.InstanceId = deref(inst.InstanceId)
	d.ReservationId = deref(out.ReservationId)
	d.SpotInstanceRequestId = deref(inst.SpotInstanceRequestId)
	d.recordAddresses(&inst)
	d.log().Info("instance launched", "instance", d.InstanceId, "spotRequest", d.SpotInstanceRequestId)
	return nil
}

func (d *Driver) waitRunning(ctx context.Context, a *api) error {
	return waitFor(ctx, fmt.Sprintf("instance %s to be running", d.InstanceId), instanceTimeout, func(ctx context.Context) (bool, string, error) {
		inst, err := a.instance(ctx, d.InstanceId)
		if err != nil {
			if transient(err) {
				return false, errorCode(err), nil
			}
			return false, "", err
		}
		if inst == nil {
			// Not visible yet: EC2 is eventually consistent.
			return false, "not found yet", nil
		}
		d.recordAddresses(inst)
		if d.SpotInstanceRequestId == "" {
			d.SpotInstanceRequestId = deref(inst.SpotInstanceRequestId)
		}
		switch st := instanceStateName(inst); st {
		case types.InstanceStateNameRunning:
			if d.connectIP() == "" {
				return false, "running, no " + d.addressKind() + " address yet", nil
			}
			return true, "", nil
		case types.InstanceStateNamePending:
			return false, string(st), nil
		default:
			reason := ""
			if inst.StateReason != nil {
				reason = ": " + deref(inst.StateReason.Message)
			}
			return false, "", fmt.Errorf("instance %s is %s%s", d.InstanceId, st, reason)
		}
	})
}

// transient is the SDK's own judgement that a failed call may succeed if
// repeated (throttling, 5xx, a dropped connection).
func transient(err error) bool {
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary
}
