package cloudsim_test

import (
	"crypto/ed25519"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/fleetdock/machine/integration/cloudsim"
	"github.com/fleetdock/machine/integration/cloudsim/cloudsimtest"
)

// ec2Code checks an EC2 call failed with code and returns its message.
func ec2Code(t *testing.T, err error, code string) string {
	t.Helper()
	require.Error(t, err)
	var ae smithy.APIError
	require.True(t, errors.As(err, &ae), "want an API error, got %T: %v", err, err)
	require.Equal(t, code, ae.ErrorCode(), "message: %s", ae.ErrorMessage())
	return ae.ErrorMessage()
}

// ec2Sim starts a simulator with instant transitions and a client that
// retries nothing, so every answer checked is its first.
func ec2Sim(t *testing.T) (*cloudsimtest.Sim, *ec2.Client) {
	t.Helper()
	sim := newSim(t)
	return sim, cloudsimtest.NewEC2Client(sim.Server, "", firstAnswers)
}

func firstAnswers(o *ec2.Options) {
	o.Retryer = aws.NopRetryer{}
}

func TestEC2CatalogAndDefaults(t *testing.T) {
	sim, c := ec2Sim(t)
	ctx := t.Context()
	regions, err := c.DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
	require.NoError(t, err)
	require.Len(t, regions.Regions, 6)
	assert.Equal(t, "us-east-1", aws.ToString(regions.Regions[0].RegionName))
	assert.Equal(t, sim.Domain(), aws.ToString(regions.Regions[0].Endpoint))

	zones, err := c.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{})
	require.NoError(t, err)
	require.Len(t, zones.AvailabilityZones, 3)
	assert.Equal(t, "use1-az1", aws.ToString(zones.AvailabilityZones[0].ZoneId))
	assert.Equal(t, types.AvailabilityZoneStateAvailable, zones.AvailabilityZones[0].State)

	attrs, err := c.DescribeAccountAttributes(ctx, &ec2.DescribeAccountAttributesInput{AttributeNames: []types.AccountAttributeName{types.AccountAttributeNameDefaultVpc}})
	require.NoError(t, err)
	require.Len(t, attrs.AccountAttributes, 1)
	defVpc := aws.ToString(attrs.AccountAttributes[0].AttributeValues[0].AttributeValue)
	require.NotEqual(t, "none", defVpc, "the default VPC is named, as on EC2")

	vpcs, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []types.Filter{{Name: aws.String("is-default"), Values: []string{"true"}}}})
	require.NoError(t, err)
	require.Len(t, vpcs.Vpcs, 1)
	assert.Equal(t, defVpc, aws.ToString(vpcs.Vpcs[0].VpcId))
	assert.Equal(t, "172.31.0.0/16", aws.ToString(vpcs.Vpcs[0].CidrBlock))

	subnets, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{defVpc}}, {Name: aws.String("default-for-az"), Values: []string{"true"}},
	}})
	require.NoError(t, err)
	require.Len(t, subnets.Subnets, 3)
	for _, sn := range subnets.Subnets {
		assert.True(t, aws.ToBool(sn.DefaultForAz))
		assert.True(t, aws.ToBool(sn.MapPublicIpOnLaunch))
		assert.Positive(t, aws.ToInt32(sn.AvailableIpAddressCount))
	}
	_, err = c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{"subnet-0123456789abcdef0"}})
	ec2Code(t, err, "InvalidSubnetID.NotFound")
	_, err = c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []types.Filter{{Name: aws.String("no-such-filter"), Values: []string{"x"}}}})
	ec2Code(t, err, "InvalidParameterValue")

	groups, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{{Name: aws.String("vpc-id"), Values: []string{defVpc}}}})
	require.NoError(t, err)
	require.Len(t, groups.SecurityGroups, 1)
	assert.Equal(t, "default", aws.ToString(groups.SecurityGroups[0].GroupName))
	_, err = c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: groups.SecurityGroups[0].GroupId})
	ec2Code(t, err, "CannotDelete")

	other := cloudsimtest.NewEC2Client(sim.Server, "eu-west-1")
	zones, err = other.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{})
	require.NoError(t, err)
	assert.Equal(t, "eu-west-1a", aws.ToString(zones.AvailabilityZones[0].ZoneName))
}

func TestEC2KeyPairs(t *testing.T) {
	_, c := ec2Sim(t)
	ctx := t.Context()
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	sshEd, err := ssh.NewPublicKey(edPub)
	require.NoError(t, err)
	imp, err := c.ImportKeyPair(ctx, &ec2.ImportKeyPairInput{KeyName: aws.String("m1"), PublicKeyMaterial: ssh.MarshalAuthorizedKey(sshEd),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeKeyPair, Tags: []types.Tag{{Key: aws.String("owner"), Value: aws.String("t")}}}}})
	require.NoError(t, err)
	sum := sha256.Sum256(sshEd.Marshal())
	assert.Equal(t, base64.StdEncoding.EncodeToString(sum[:]), aws.ToString(imp.KeyFingerprint), "ED25519: base64 SHA-256, as ssh-keygen -l")
	assert.Regexp(t, `^key-[0-9a-f]{17}$`, aws.ToString(imp.KeyPairId))
	_, err = c.ImportKeyPair(ctx, &ec2.ImportKeyPairInput{KeyName: aws.String("m1"), PublicKeyMaterial: ssh.MarshalAuthorizedKey(sshEd)})
	assert.Contains(t, ec2Code(t, err, "InvalidKeyPair.Duplicate"), "'m1' already exists")
	_, err = c.ImportKeyPair(ctx, &ec2.ImportKeyPairInput{KeyName: aws.String("bad"), PublicKeyMaterial: []byte("not a key")})
	ec2Code(t, err, "InvalidKeyPair.Format")

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	sshRSA, err := ssh.NewPublicKey(&rsaKey.PublicKey)
	require.NoError(t, err)
	imp2, err := c.ImportKeyPair(ctx, &ec2.ImportKeyPairInput{KeyName: aws.String("m2"), PublicKeyMaterial: ssh.MarshalAuthorizedKey(sshRSA)})
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	require.NoError(t, err)
	md := md5.Sum(der)
	assert.Equal(t, colonHex(md[:]), aws.ToString(imp2.KeyFingerprint), "imported RSA: MD5 of the DER public key")

	created, err := c.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("m3")})
	require.NoError(t, err)
	priv, err := ssh.ParseRawPrivateKey([]byte(aws.ToString(created.KeyMaterial)))
	require.NoError(t, err, "the key material is a usable private key")
	pkcs8, err := x509.MarshalPKCS8PrivateKey(priv)
	require.NoError(t, err)
	sh := sha1.Sum(pkcs8)
	assert.Equal(t, colonHex(sh[:]), aws.ToString(created.KeyFingerprint), "created RSA: SHA-1 of the PKCS#8 private key")

	all, err := c.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{})
	require.NoError(t, err)
	assert.Len(t, all.KeyPairs, 3)
	one, err := c.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{KeyNames: []string{"m1"}, IncludePublicKey: aws.Bool(true)})
	require.NoError(t, err)
	require.Len(t, one.KeyPairs, 1)
	assert.Equal(t, types.KeyTypeEd25519, one.KeyPairs[0].KeyType)
	assert.Equal(t, "owner", aws.ToString(one.KeyPairs[0].Tags[0].Key))
	assert.NotEmpty(t, aws.ToString(one.KeyPairs[0].PublicKey))
	_, err = c.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{KeyNames: []string{"nope"}})
	assert.Contains(t, ec2Code(t, err, "InvalidKeyPair.NotFound"), "'nope' does not exist")

	w := ec2.NewKeyPairExistsWaiter(c, func(o *ec2.KeyPairExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 50*time.Millisecond
	})
	require.NoError(t, w.Wait(ctx, &ec2.DescribeKeyPairsInput{KeyNames: []string{"m2"}}, 5*time.Second))

	del, err := c.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyName: aws.String("m1")})
	require.NoError(t, err)
	assert.Equal(t, aws.ToString(imp.KeyPairId), aws.ToString(del.KeyPairId))
	_, err = c.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyName: aws.String("m1")})
	require.NoError(t, err, "deleting a missing key pair succeeds, as on EC2")
}

func colonHex(b []byte) string {
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02x", x)
	}
	return strings.Join(parts, ":")
}

// ec2Group makes a security group in the default VPC with SSH open.
func ec2Group(t *testing.T, c *ec2.Client, name string) string {
	t.Helper()
	g, err := c.CreateSecurityGroup(t.Context(), &ec2.CreateSecurityGroupInput{GroupName: aws.String(name), Description: aws.String("test group")})
	require.NoError(t, err)
	_, err = c.AuthorizeSecurityGroupIngress(t.Context(), &ec2.AuthorizeSecurityGroupIngressInput{GroupId: g.GroupId, IpPermissions: []types.IpPermission{
		{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22), IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}},
	}})
	require.NoError(t, err)
	return aws.ToString(g.GroupId)
}

func TestEC2SecurityGroups(t *testing.T) {
	_, c := ec2Sim(t)
	ctx := t.Context()
	g := ec2Group(t, c, "docker-machine")
	_, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("docker-machine"), Description: aws.String("again")})
	ec2Code(t, err, "InvalidGroup.Duplicate")

	perm := types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(2376), ToPort: aws.Int32(2376),
		IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0"), Description: aws.String("docker")}}}
	auth, err := c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(g), IpPermissions: []types.IpPermission{perm}})
	require.NoError(t, err)
	require.Len(t, auth.SecurityGroupRules, 1)
	assert.Regexp(t, `^sgr-`, aws.ToString(auth.SecurityGroupRules[0].SecurityGroupRuleId))
	_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(g), IpPermissions: []types.IpPermission{perm}})
	ec2Code(t, err, "InvalidPermission.Duplicate")

	desc, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{g}})
	require.NoError(t, err)
	require.Len(t, desc.SecurityGroups, 1)
	sg := desc.SecurityGroups[0]
	assert.Equal(t, "docker-machine", aws.ToString(sg.GroupName))
	require.Len(t, sg.IpPermissions, 2)
	assert.Equal(t, int32(2376), aws.ToInt32(sg.IpPermissions[1].FromPort))
	assert.Equal(t, "docker", aws.ToString(sg.IpPermissions[1].IpRanges[0].Description))
	require.Len(t, sg.IpPermissionsEgress, 1, "a new group allows all egress")
	assert.Equal(t, "-1", aws.ToString(sg.IpPermissionsEgress[0].IpProtocol))

	byName, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{{Name: aws.String("group-name"), Values: []string{"docker-*"}}}})
	require.NoError(t, err)
	assert.Len(t, byName.SecurityGroups, 1)

	_, err = c.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(g), IpPermissions: []types.IpPermission{perm}})
	require.NoError(t, err)
	_, err = c.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(g), IpPermissions: []types.IpPermission{perm}})
	ec2Code(t, err, "InvalidPermission.NotFound")

	// A group referenced by another group's rule, or used by an instance, cannot go.
	ref := ec2Group(t, c, "referrer")
	_, err = c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(ref), IpPermissions: []types.IpPermission{
		{IpProtocol: aws.String("-1"), UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: aws.String(g)}}},
	}})
	require.NoError(t, err)
	_, err = c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(g)})
	ec2Code(t, err, "DependencyViolation")
	_, err = c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(ref)})
	require.NoError(t, err)

	inst := runEC2(t, c, func(in *ec2.RunInstancesInput) { in.SecurityGroupIds = []string{g} })
	_, err = c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(g)})
	ec2Code(t, err, "DependencyViolation")
	terminate(t, c, inst)
	_, err = c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(g)})
	require.NoError(t, err, "a terminated instance holds its groups no more")
	_, err = c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(g)})
	ec2Code(t, err, "InvalidGroup.NotFound")
}

// ubuntuImage finds the newest Ubuntu 24.04 image as a driver would.
func ubuntuImage(t *testing.T, c *ec2.Client) types.Image {
	t.Helper()
	out, err := c.DescribeImages(t.Context(), &ec2.DescribeImagesInput{Owners: []string{"099720109477"}, Filters: []types.Filter{
		{Name: aws.String("name"), Values: []string{"ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"}},
		{Name: aws.String("state"), Values: []string{"available"}},
	}})
	require.NoError(t, err)
	require.NotEmpty(t, out.Images)
	newest := out.Images[0]
	for _, img := range out.Images {
		if aws.ToString(img.CreationDate) > aws.ToString(newest.CreationDate) {
			newest = img
		}
	}
	return newest
}

func TestEC2Images(t *testing.T) {
	_, c := ec2Sim(t)
	ctx := t.Context()
	img := ubuntuImage(t, c)
	assert.Contains(t, aws.ToString(img.Name), "20251002")
	assert.Equal(t, "/dev/sda1", aws.ToString(img.RootDeviceName))
	assert.Equal(t, types.ImageStateAvailable, img.State)
	require.NotEmpty(t, img.BlockDeviceMappings)
	assert.Equal(t, int32(8), aws.ToInt32(img.BlockDeviceMappings[0].Ebs.VolumeSize))

	jammy, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"099720109477"}, Filters: []types.Filter{
		{Name: aws.String("name"), Values: []string{"ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-????????"}}}})
	require.NoError(t, err)
	assert.Len(t, jammy.Images, 1)
	none, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"self"}})
	require.NoError(t, err)
	assert.Empty(t, none.Images, "the account owns no images")
	_, err = c.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{"ami-0123456789abcdef0"}})
	ec2Code(t, err, "InvalidAMIID.NotFound")
	other := cloudsimtest.NewEC2Client(newSim(t).Server, "eu-west-1")
	_, err = other.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{aws.ToString(img.ImageId)}})
	ec2Code(t, err, "InvalidAMIID.NotFound")
}

// runEC2 launches one instance of the Ubuntu image and waits until it runs.
func runEC2(t *testing.T, c *ec2.Client, mutate func(*ec2.RunInstancesInput)) string {
	t.Helper()
	in := &ec2.RunInstancesInput{ImageId: ubuntuImage(t, c).ImageId, InstanceType: types.InstanceTypeT3Micro, MinCount: aws.Int32(1), MaxCount: aws.Int32(1)}
	if mutate != nil {
		mutate(in)
	}
	out, err := c.RunInstances(t.Context(), in)
	require.NoError(t, err)
	require.Len(t, out.Instances, 1)
	id := aws.ToString(out.Instances[0].InstanceId)
	w := ec2.NewInstanceRunningWaiter(c, func(o *ec2.InstanceRunningWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 100*time.Millisecond
	})
	require.NoError(t, w.Wait(t.Context(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}}, 30*time.Second))
	return id
}

func terminate(t *testing.T, c *ec2.Client, id string) {
	t.Helper()
	_, err := c.TerminateInstances(t.Context(), &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
	require.NoError(t, err)
	w := ec2.NewInstanceTerminatedWaiter(c, func(o *ec2.InstanceTerminatedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 100*time.Millisecond
	})
	require.NoError(t, w.Wait(t.Context(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}}, 30*time.Second))
}

func describeInstance(t *testing.T, c *ec2.Client, id string) types.Instance {
	t.Helper()
	out, err := c.DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	require.NoError(t, err)
	require.Len(t, out.Reservations, 1)
	require.Len(t, out.Reservations[0].Instances, 1)
	return out.Reservations[0].Instances[0]
}

func TestEC2InstanceLifecycle(t *testing.T) {
	sim, c := ec2Sim(t)
	ctx := t.Context()
	before := sim.Resources().EC2
	g := ec2Group(t, c, "machines")
	_, err := c.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("m1")})
	require.NoError(t, err)
	subnets, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []types.Filter{{Name: aws.String("availability-zone"), Values: []string{"us-east-1b"}}}})
	require.NoError(t, err)
	require.Len(t, subnets.Subnets, 1)
	subnet := aws.ToString(subnets.Subnets[0].SubnetId)
	userData := base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\necho hello\n"))
	tags := []types.Tag{{Key: aws.String("Name"), Value: aws.String("m1")}, {Key: aws.String("docker-machine"), Value: aws.String("m1")}}

	run, err := c.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: ubuntuImage(t, c).ImageId, InstanceType: types.InstanceTypeT3Small, MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		KeyName: aws.String("m1"), UserData: aws.String(userData),
		NetworkInterfaces: []types.InstanceNetworkInterfaceSpecification{{DeviceIndex: aws.Int32(0), SubnetId: aws.String(subnet),
			Groups: []string{g}, AssociatePublicIpAddress: aws.Bool(true)}},
		BlockDeviceMappings: []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/sda1"), Ebs: &types.EbsBlockDevice{
			VolumeSize: aws.Int32(16), VolumeType: types.VolumeTypeGp3, Iops: aws.Int32(4000), Throughput: aws.Int32(250), DeleteOnTermination: aws.Bool(true)}}},
		MetadataOptions: &types.InstanceMetadataOptionsRequest{HttpTokens: types.HttpTokensStateRequired, HttpEndpoint: types.InstanceMetadataEndpointStateEnabled},
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeInstance, Tags: tags},
			{ResourceType: types.ResourceTypeVolume, Tags: tags[:1]}},
	})
	require.NoError(t, err)
	require.Len(t, run.Instances, 1)
	assert.Regexp(t, `^r-[0-9a-f]{17}$`, aws.ToString(run.ReservationId))
	first := run.Instances[0]
	id := aws.ToString(first.InstanceId)
	assert.Regexp(t, `^i-[0-9a-f]{17}$`, id)
	assert.Equal(t, types.InstanceStateNamePending, first.State.Name)
	assert.NotEmpty(t, aws.ToString(first.ClientToken), "the SDK fills ClientToken and the answer carries it")

	w := ec2.NewInstanceRunningWaiter(c, func(o *ec2.InstanceRunningWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 100*time.Millisecond
	})
	require.NoError(t, w.Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}}, 30*time.Second))
	inst := describeInstance(t, c, id)
	assert.Equal(t, int32(16), aws.ToInt32(inst.State.Code))
	assert.Equal(t, "us-east-1b", aws.ToString(inst.Placement.AvailabilityZone))
	assert.Equal(t, subnet, aws.ToString(inst.SubnetId))
	assert.Equal(t, "m1", aws.ToString(inst.KeyName))
	pub := aws.ToString(inst.PublicIpAddress)
	assert.Regexp(t, `^127\.100\.`, pub)
	assert.NotEmpty(t, aws.ToString(inst.PrivateIpAddress))
	assert.Equal(t, types.HttpTokensStateRequired, inst.MetadataOptions.HttpTokens)
	assert.Equal(t, "/dev/sda1", aws.ToString(inst.RootDeviceName))
	require.Len(t, inst.NetworkInterfaces, 1)
	assert.Equal(t, pub, aws.ToString(inst.NetworkInterfaces[0].Association.PublicIp))
	require.Len(t, inst.SecurityGroups, 1)
	assert.Equal(t, "machines", aws.ToString(inst.SecurityGroups[0].GroupName))
	assert.ElementsMatch(t, tags, stripTags(inst.Tags))
	require.Len(t, inst.BlockDeviceMappings, 1)
	vol := aws.ToString(inst.BlockDeviceMappings[0].Ebs.VolumeId)

	vols, err := c.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: []types.Filter{{Name: aws.String("attachment.instance-id"), Values: []string{id}}}})
	require.NoError(t, err)
	require.Len(t, vols.Volumes, 1)
	v := vols.Volumes[0]
	assert.Equal(t, vol, aws.ToString(v.VolumeId))
	assert.Equal(t, types.VolumeTypeGp3, v.VolumeType)
	assert.Equal(t, int32(16), aws.ToInt32(v.Size))
	assert.Equal(t, int32(4000), aws.ToInt32(v.Iops))
	assert.Equal(t, int32(250), aws.ToInt32(v.Throughput))
	assert.Equal(t, types.VolumeStateInUse, v.State)
	assert.Equal(t, "Name", aws.ToString(v.Tags[0].Key))
	_, err = c.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(vol)})
	ec2Code(t, err, "VolumeInUse")

	status, err := c.DescribeInstanceStatus(ctx, &ec2.DescribeInstanceStatusInput{InstanceIds: []string{id}})
	require.NoError(t, err)
	require.Len(t, status.InstanceStatuses, 1)
	assert.Equal(t, types.SummaryStatusOk, status.InstanceStatuses[0].InstanceStatus.Status)

	stop, err := c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}})
	require.NoError(t, err)
	assert.Equal(t, types.InstanceStateNameStopping, stop.StoppingInstances[0].CurrentState.Name)
	assert.Equal(t, types.InstanceStateNameRunning, stop.StoppingInstances[0].PreviousState.Name)
	sw := ec2.NewInstanceStoppedWaiter(c, func(o *ec2.InstanceStoppedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 100*time.Millisecond
	})
	require.NoError(t, sw.Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}}, 30*time.Second))
	assert.Empty(t, aws.ToString(describeInstance(t, c, id).PublicIpAddress), "a stopped instance gives its public IP back")
	_, err = c.RebootInstances(ctx, &ec2.RebootInstancesInput{InstanceIds: []string{id}})
	ec2Code(t, err, "IncorrectInstanceState")

	start, err := c.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{id}})
	require.NoError(t, err)
	assert.Equal(t, types.InstanceStateNamePending, start.StartingInstances[0].CurrentState.Name)
	require.NoError(t, w.Wait(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}}, 30*time.Second))
	assert.Regexp(t, `^127\.100\.`, aws.ToString(describeInstance(t, c, id).PublicIpAddress), "a new public IP at start")
	_, err = c.RebootInstances(ctx, &ec2.RebootInstancesInput{InstanceIds: []string{id}})
	require.NoError(t, err)

	_, err = c.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{"i-0123456789abcdef0"}})
	assert.Contains(t, ec2Code(t, err, "InvalidInstanceID.NotFound"), "'i-0123456789abcdef0' does not exist")
	_, err = c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{"bogus"}})
	ec2Code(t, err, "InvalidInstanceID.Malformed")

	terminate(t, c, id)
	gone := describeInstance(t, c, id)
	assert.Equal(t, types.InstanceStateNameTerminated, gone.State.Name, "terminated instances stay visible for a while")
	assert.Equal(t, "Client.UserInitiatedShutdown", aws.ToString(gone.StateReason.Code))
	_, err = c.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{vol}})
	ec2Code(t, err, "InvalidVolume.NotFound")

	_, err = c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(g)})
	require.NoError(t, err)
	_, err = c.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyName: aws.String("m1")})
	require.NoError(t, err)
	after := sim.Resources()
	assert.Equal(t, before, after.EC2, "nothing is left after terminate and the deletes")
	assert.Empty(t, after.Forwarders)
}

// stripTags drops the SDK's unexported fields' noise for comparison.
func stripTags(in []types.Tag) []types.Tag {
	out := make([]types.Tag, 0, len(in))
	for _, t := range in {
		out = append(out, types.Tag{Key: t.Key, Value: t.Value})
	}
	return out
}

func TestEC2RunInstancesChecks(t *testing.T) {
	sim, c := ec2Sim(t)
	ctx := t.Context()
	img := ubuntuImage(t, c).ImageId
	base := func() *ec2.RunInstancesInput {
		return &ec2.RunInstancesInput{ImageId: img, InstanceType: types.InstanceTypeT3Micro, MinCount: aws.Int32(1), MaxCount: aws.Int32(1)}
	}
	in := base()
	in.ImageId = aws.String("ami-0123456789abcdef0")
	_, err := c.RunInstances(ctx, in)
	ec2Code(t, err, "InvalidAMIID.NotFound")
	in = base()
	in.KeyName = aws.String("missing")
	_, err = c.RunInstances(ctx, in)
	assert.Contains(t, ec2Code(t, err, "InvalidKeyPair.NotFound"), "'missing' does not exist")
	in = base()
	in.SecurityGroupIds = []string{"sg-0123456789abcdef0"}
	_, err = c.RunInstances(ctx, in)
	ec2Code(t, err, "InvalidGroup.NotFound")
	in = base()
	in.InstanceType = "x9.huge"
	_, err = c.RunInstances(ctx, in)
	ec2Code(t, err, "InvalidParameterValue")
	in = base()
	in.BlockDeviceMappings = []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/sda1"), Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(4)}}}
	_, err = c.RunInstances(ctx, in)
	assert.Contains(t, ec2Code(t, err, "InvalidBlockDeviceMapping"), "smaller than snapshot")
	in = base()
	in.BlockDeviceMappings = []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/sdf"), Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(20), VolumeType: types.VolumeTypeIo1}}}
	_, err = c.RunInstances(ctx, in)
	assert.Contains(t, ec2Code(t, err, "InvalidParameterCombination"), "iops must be specified for io1")
	in = base()
	in.UserData = aws.String("not base64!")
	_, err = c.RunInstances(ctx, in)
	ec2Code(t, err, "InvalidParameterValue")
	in = base()
	in.DryRun = aws.Bool(true)
	_, err = c.RunInstances(ctx, in)
	ec2Code(t, err, "DryRunOperation")
	assert.Empty(t, sim.Resources().EC2.Instances, "no failed or dry run left an instance")
	assert.Len(t, sim.Resources().EC2.Volumes, 0)
}

func TestEC2ClientTokenMakesRunInstancesIdempotent(t *testing.T) {
	sim, c := ec2Sim(t)
	ctx := t.Context()
	in := &ec2.RunInstancesInput{ImageId: ubuntuImage(t, c).ImageId, InstanceType: types.InstanceTypeT3Micro, MinCount: aws.Int32(2), MaxCount: aws.Int32(2),
		ClientToken: aws.String("retry-token-1")}
	a, err := c.RunInstances(ctx, in)
	require.NoError(t, err)
	b, err := c.RunInstances(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, aws.ToString(a.ReservationId), aws.ToString(b.ReservationId))
	assert.Equal(t, aws.ToString(a.Instances[1].InstanceId), aws.ToString(b.Instances[1].InstanceId))
	assert.Len(t, sim.Resources().EC2.Instances, 2, "the retry made nothing new")
	in.InstanceType = types.InstanceTypeT3Small
	_, err = c.RunInstances(ctx, in)
	ec2Code(t, err, "IdempotentParameterMismatch")
	byToken, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("client-token"), Values: []string{"retry-token-1"}}}})
	require.NoError(t, err)
	require.Len(t, byToken.Reservations, 1)
	assert.Len(t, byToken.Reservations[0].Instances, 2)
}

func TestEC2TagsAndPaging(t *testing.T) {
	_, c := ec2Sim(t)
	ctx := t.Context()
	in := &ec2.RunInstancesInput{ImageId: ubuntuImage(t, c).ImageId, InstanceType: types.InstanceTypeT3Micro, MinCount: aws.Int32(7), MaxCount: aws.Int32(7)}
	run, err := c.RunInstances(ctx, in)
	require.NoError(t, err)
	require.Len(t, run.Instances, 7)
	ids := []string{aws.ToString(run.Instances[0].InstanceId), aws.ToString(run.Instances[1].InstanceId)}
	_, err = c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: ids, Tags: []types.Tag{{Key: aws.String("role"), Value: aws.String("worker")}}})
	require.NoError(t, err)
	_, err = c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{ids[0], "i-0123456789abcdef0"}, Tags: []types.Tag{{Key: aws.String("x"), Value: aws.String("y")}}})
	ec2Code(t, err, "InvalidInstanceID.NotFound")

	tagged, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("tag:role"), Values: []string{"worker"}}}})
	require.NoError(t, err)
	require.Len(t, tagged.Reservations, 1)
	assert.Len(t, tagged.Reservations[0].Instances, 2)
	tags, err := c.DescribeTags(ctx, &ec2.DescribeTagsInput{Filters: []types.Filter{{Name: aws.String("resource-type"), Values: []string{"instance"}}}})
	require.NoError(t, err)
	require.Len(t, tags.Tags, 2)
	assert.Equal(t, types.ResourceTypeInstance, tags.Tags[0].ResourceType)
	assert.Equal(t, "worker", aws.ToString(tags.Tags[0].Value))
	_, err = c.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: ids[:1], Tags: []types.Tag{{Key: aws.String("role")}}})
	require.NoError(t, err)
	tags, err = c.DescribeTags(ctx, &ec2.DescribeTagsInput{Filters: []types.Filter{{Name: aws.String("key"), Values: []string{"role"}}}})
	require.NoError(t, err)
	assert.Len(t, tags.Tags, 1)

	// The paginator follows nextToken and stops on the last page.
	pager := ec2.NewDescribeInstancesPaginator(c, &ec2.DescribeInstancesInput{MaxResults: aws.Int32(5)})
	pages, seen := 0, 0
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		require.NoError(t, err)
		pages++
		for _, r := range page.Reservations {
			seen += len(r.Instances)
		}
		require.Less(t, pages, 10, "the paginator must end")
	}
	assert.Equal(t, 2, pages, "MaxResults counts instances: a reservation of seven spans two pages")
	_, err = c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids, MaxResults: aws.Int32(5)})
	ec2Code(t, err, "InvalidParameterCombination")
	assert.Equal(t, 7, seen)
	for _, inst := range run.Instances {
		_, err := c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{aws.ToString(inst.InstanceId)}})
		require.NoError(t, err)
	}
	sg := ec2.NewDescribeSecurityGroupsPaginator(c, &ec2.DescribeSecurityGroupsInput{MaxResults: aws.Int32(5)})
	for i := range 6 {
		_, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(fmt.Sprintf("g%d", i)), Description: aws.String("d")})
		require.NoError(t, err)
	}
	pages, seen = 0, 0
	for sg.HasMorePages() {
		page, err := sg.NextPage(ctx)
		require.NoError(t, err)
		pages++
		seen += len(page.SecurityGroups)
		require.Less(t, pages, 10, "the paginator must end")
	}
	assert.Equal(t, 2, pages)
	assert.Equal(t, 7, seen, "six groups and the default one")
}

func TestEC2Spot(t *testing.T) {
	sim, c := ec2Sim(t)
	ctx := t.Context()
	id := runEC2(t, c, func(in *ec2.RunInstancesInput) {
		in.InstanceMarketOptions = &types.InstanceMarketOptionsRequest{MarketType: types.MarketTypeSpot,
			SpotOptions: &types.SpotMarketOptions{SpotInstanceType: types.SpotInstanceTypeOneTime, MaxPrice: aws.String("0.05")}}
	})
	inst := describeInstance(t, c, id)
	assert.Equal(t, types.InstanceLifecycleTypeSpot, inst.InstanceLifecycle)
	sir := aws.ToString(inst.SpotInstanceRequestId)
	require.Regexp(t, `^sir-`, sir)
	reqs, err := c.DescribeSpotInstanceRequests(ctx, &ec2.DescribeSpotInstanceRequestsInput{SpotInstanceRequestIds: []string{sir}})
	require.NoError(t, err)
	require.Len(t, reqs.SpotInstanceRequests, 1)
	assert.Equal(t, types.SpotInstanceStateActive, reqs.SpotInstanceRequests[0].State)
	assert.Equal(t, "fulfilled", aws.ToString(reqs.SpotInstanceRequests[0].Status.Code))
	assert.Equal(t, id, aws.ToString(reqs.SpotInstanceRequests[0].InstanceId))
	_, err = c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}})
	ec2Code(t, err, "UnsupportedOperation")
	terminate(t, c, id)
	reqs, err = c.DescribeSpotInstanceRequests(ctx, &ec2.DescribeSpotInstanceRequestsInput{SpotInstanceRequestIds: []string{sir}})
	require.NoError(t, err)
	assert.Equal(t, types.SpotInstanceStateClosed, reqs.SpotInstanceRequests[0].State)

	// The request-based API: open, fulfilled after create_time, cancelled
	// with its instance still running.
	g := ec2Group(t, c, "spot")
	req, err := c.RequestSpotInstances(ctx, &ec2.RequestSpotInstancesInput{SpotPrice: aws.String("0.10"), InstanceCount: aws.Int32(1),
		Type: types.SpotInstanceTypeOneTime, LaunchSpecification: &types.RequestSpotLaunchSpecification{
			ImageId: ubuntuImage(t, c).ImageId, InstanceType: types.InstanceTypeT3Micro, SecurityGroupIds: []string{g}}})
	require.NoError(t, err)
	require.Len(t, req.SpotInstanceRequests, 1)
	sir = aws.ToString(req.SpotInstanceRequests[0].SpotInstanceRequestId)
	assert.Equal(t, types.SpotInstanceStateOpen, req.SpotInstanceRequests[0].State)
	fw := ec2.NewSpotInstanceRequestFulfilledWaiter(c, func(o *ec2.SpotInstanceRequestFulfilledWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 100*time.Millisecond
	})
	require.NoError(t, fw.Wait(ctx, &ec2.DescribeSpotInstanceRequestsInput{SpotInstanceRequestIds: []string{sir}}, 30*time.Second))
	reqs, err = c.DescribeSpotInstanceRequests(ctx, &ec2.DescribeSpotInstanceRequestsInput{SpotInstanceRequestIds: []string{sir}})
	require.NoError(t, err)
	spotInst := aws.ToString(reqs.SpotInstanceRequests[0].InstanceId)
	require.NotEmpty(t, spotInst)
	assert.Equal(t, []string{g}, []string{aws.ToString(describeInstance(t, c, spotInst).SecurityGroups[0].GroupId)})
	cancel, err := c.CancelSpotInstanceRequests(ctx, &ec2.CancelSpotInstanceRequestsInput{SpotInstanceRequestIds: []string{sir}})
	require.NoError(t, err)
	assert.Equal(t, types.CancelSpotInstanceRequestStateCancelled, cancel.CancelledSpotInstanceRequests[0].State)
	reqs, err = c.DescribeSpotInstanceRequests(ctx, &ec2.DescribeSpotInstanceRequestsInput{SpotInstanceRequestIds: []string{sir}})
	require.NoError(t, err)
	assert.Equal(t, "request-canceled-and-instance-running", aws.ToString(reqs.SpotInstanceRequests[0].Status.Code))
	assert.Len(t, sim.Resources().EC2.Instances, 1, "cancelling a request leaves its instance running")
	terminate(t, c, spotInst)
	assert.Empty(t, sim.Resources().EC2.SpotRequests)
	_, err = c.DescribeSpotInstanceRequests(ctx, &ec2.DescribeSpotInstanceRequestsInput{SpotInstanceRequestIds: []string{"sir-nothere"}})
	ec2Code(t, err, "InvalidSpotInstanceRequestID.NotFound")

	// A specification RunInstances would refuse is refused at request time.
	_, err = c.RequestSpotInstances(ctx, &ec2.RequestSpotInstancesInput{LaunchSpecification: &types.RequestSpotLaunchSpecification{
		ImageId: aws.String("ami-0123456789abcdef0"), InstanceType: types.InstanceTypeT3Micro}})
	ec2Code(t, err, "InvalidAMIID.NotFound")
}

func TestEC2VolumesAndEncryptionByDefault(t *testing.T) {
	_, c := ec2Sim(t)
	ctx := t.Context()
	def, err := c.GetEbsEncryptionByDefault(ctx, &ec2.GetEbsEncryptionByDefaultInput{})
	require.NoError(t, err)
	assert.False(t, aws.ToBool(def.EbsEncryptionByDefault))
	plain := runEC2(t, c, nil)
	vols, err := c.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: []types.Filter{{Name: aws.String("attachment.instance-id"), Values: []string{plain}}}})
	require.NoError(t, err)
	require.Len(t, vols.Volumes, 1)
	assert.False(t, aws.ToBool(vols.Volumes[0].Encrypted))
	assert.Equal(t, types.VolumeTypeGp3, vols.Volumes[0].VolumeType, "the image's root volume type")
	assert.Equal(t, int32(8), aws.ToInt32(vols.Volumes[0].Size))

	_, err = c.EnableEbsEncryptionByDefault(ctx, &ec2.EnableEbsEncryptionByDefaultInput{})
	require.NoError(t, err)
	key, err := c.GetEbsDefaultKmsKeyId(ctx, &ec2.GetEbsDefaultKmsKeyIdInput{})
	require.NoError(t, err)
	assert.Regexp(t, `^arn:aws:kms:us-east-1:\d{12}:key/`, aws.ToString(key.KmsKeyId))
	enc := runEC2(t, c, func(in *ec2.RunInstancesInput) {
		in.BlockDeviceMappings = []types.BlockDeviceMapping{
			{DeviceName: aws.String("/dev/sdf"), Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(100), VolumeType: types.VolumeTypeIo2, Iops: aws.Int32(5000), DeleteOnTermination: aws.Bool(false)}},
			{DeviceName: aws.String("/dev/sdg"), Ebs: &types.EbsBlockDevice{VolumeSize: aws.Int32(10), Encrypted: aws.Bool(true), KmsKeyId: aws.String("alias/machines")}},
		}
	})
	vols, err = c.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: []types.Filter{{Name: aws.String("attachment.instance-id"), Values: []string{enc}}}})
	require.NoError(t, err)
	require.Len(t, vols.Volumes, 3)
	byDevice := map[string]types.Volume{}
	for _, v := range vols.Volumes {
		assert.True(t, aws.ToBool(v.Encrypted), "encryption by default covers every new volume")
		byDevice[aws.ToString(v.Attachments[0].Device)] = v
	}
	assert.Equal(t, aws.ToString(key.KmsKeyId), aws.ToString(byDevice["/dev/sda1"].KmsKeyId))
	assert.Equal(t, "alias/machines", aws.ToString(byDevice["/dev/sdg"].KmsKeyId))
	assert.Equal(t, int32(5000), aws.ToInt32(byDevice["/dev/sdf"].Iops))
	kept := aws.ToString(byDevice["/dev/sdf"].VolumeId)

	terminate(t, c, enc)
	left, err := c.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{VolumeIds: []string{kept}})
	require.NoError(t, err)
	assert.Equal(t, types.VolumeStateAvailable, left.Volumes[0].State, "a volume not deleted on termination is detached")
	_, err = c.DeleteVolume(ctx, &ec2.DeleteVolumeInput{VolumeId: aws.String(kept)})
	require.NoError(t, err)

	in := &ec2.RunInstancesInput{ImageId: ubuntuImage(t, c).ImageId, MinCount: aws.Int32(1), MaxCount: aws.Int32(1)}
	for _, bad := range []types.EbsBlockDevice{
		{VolumeSize: aws.Int32(10), VolumeType: types.VolumeTypeGp3, Iops: aws.Int32(20000)},
		{VolumeSize: aws.Int32(10), VolumeType: types.VolumeTypeGp3, Throughput: aws.Int32(2000)},
		{VolumeSize: aws.Int32(10), VolumeType: types.VolumeTypeGp2, Throughput: aws.Int32(200)},
		{VolumeSize: aws.Int32(10), KmsKeyId: aws.String("alias/x"), Encrypted: aws.Bool(false)},
	} {
		in.BlockDeviceMappings = []types.BlockDeviceMapping{{DeviceName: aws.String("/dev/sdh"), Ebs: &bad}}
		_, err := c.RunInstances(ctx, in)
		require.Error(t, err, "%+v", bad)
	}
}

func TestEC2Faults(t *testing.T) {
	sim, c := ec2Sim(t)
	ctx := t.Context()
	require.NoError(t, sim.SetFaults(cloudsim.Faults{Failures: []cloudsim.Failure{
		{Action: "RunInstances", Nth: 1, Code: "InsufficientInstanceCapacity"},
		{Action: "DescribeVpcs", Product: "ec2", Code: "UnauthorizedOperation"},
	}}))
	in := &ec2.RunInstancesInput{ImageId: ubuntuImage(t, c).ImageId, MinCount: aws.Int32(1), MaxCount: aws.Int32(1)}
	_, err := c.RunInstances(ctx, in)
	ec2Code(t, err, "InsufficientInstanceCapacity")
	out, err := c.RunInstances(ctx, in)
	require.NoError(t, err, "only the first call fails")
	_, err = c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	ec2Code(t, err, "UnauthorizedOperation")
	log := sim.Calls(0)
	var injected int
	for _, call := range log.Calls {
		if call.Injected && call.Product == "Ec2" {
			injected++
		}
	}
	assert.Equal(t, 2, injected)
	_, err = c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{aws.ToString(out.Instances[0].InstanceId)}})
	require.NoError(t, err)

	// Throttling answers RequestLimitExceeded with 503; the SDK's standard
	// retryer tries again, and a short burst of throttling is survived.
	require.NoError(t, sim.SetFaults(cloudsim.Faults{Failures: []cloudsim.Failure{{Action: "DescribeRegions", Code: "RequestLimitExceeded", Times: 2}}}))
	retrying := cloudsimtest.NewEC2Client(sim.Server, "", func(o *ec2.Options) {
		o.Retryer = retry.AddWithMaxBackoffDelay(retry.NewStandard(), 20*time.Millisecond)
	})
	_, err = retrying.DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
	require.NoError(t, err)
	assert.Equal(t, 3, sim.Calls(0).Counts["DescribeRegions"])
	require.NoError(t, sim.SetFaults(cloudsim.Faults{ThrottleRate: 1, ThrottleBurst: 1}))
	_, err = c.DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
	require.NoError(t, err)
	_, err = c.DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
	var re *awshttp.ResponseError
	require.True(t, errors.As(err, &re), "%v", err)
	assert.Equal(t, 503, re.HTTPStatusCode())
	ec2Code(t, err, "RequestLimitExceeded")
}

func TestEC2OwnVpcAndSubnets(t *testing.T) {
	sim, c := ec2Sim(t)
	ctx := t.Context()
	before := sim.Resources().EC2
	vpc, err := c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.20.0.0/16"),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeVpc, Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("lab")}}}}})
	require.NoError(t, err)
	vpcID := aws.ToString(vpc.Vpc.VpcId)
	assert.False(t, aws.ToBool(vpc.Vpc.IsDefault))
	_, err = c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/8")})
	ec2Code(t, err, "InvalidVpc.Range")

	sn, err := c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpcID), CidrBlock: aws.String("10.20.1.0/24"), AvailabilityZone: aws.String("us-east-1c")})
	require.NoError(t, err)
	subnet := aws.ToString(sn.Subnet.SubnetId)
	assert.False(t, aws.ToBool(sn.Subnet.MapPublicIpOnLaunch))
	assert.Equal(t, int32(251), aws.ToInt32(sn.Subnet.AvailableIpAddressCount), "a /24 less the five reserved addresses")
	_, err = c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpcID), CidrBlock: aws.String("10.20.1.128/25")})
	ec2Code(t, err, "InvalidSubnet.Conflict")
	_, err = c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpcID), CidrBlock: aws.String("10.30.0.0/24")})
	ec2Code(t, err, "InvalidSubnet.Range")

	g, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("lab"), Description: aws.String("lab"), VpcId: aws.String(vpcID)})
	require.NoError(t, err)
	defGroup := ec2Group(t, c, "lab") // the same name in another VPC is fine
	_, err = c.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(vpcID)})
	ec2Code(t, err, "DependencyViolation")

	id := runEC2(t, c, func(in *ec2.RunInstancesInput) {
		in.SubnetId = aws.String(subnet)
		in.SecurityGroupIds = []string{aws.ToString(g.GroupId)}
	})
	inst := describeInstance(t, c, id)
	assert.Equal(t, vpcID, aws.ToString(inst.VpcId))
	assert.Empty(t, aws.ToString(inst.PublicIpAddress), "the subnet does not map public IPs")
	assert.True(t, strings.HasPrefix(aws.ToString(inst.PrivateIpAddress), "10.20.1."), aws.ToString(inst.PrivateIpAddress))
	_, err = c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: inst.ImageId, MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		SubnetId: aws.String(subnet), SecurityGroupIds: []string{defGroup}})
	assert.Contains(t, ec2Code(t, err, "InvalidParameter"), "different networks")
	_, err = c.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: aws.String(subnet)})
	ec2Code(t, err, "DependencyViolation")

	terminate(t, c, id)
	for _, step := range []func() error{
		func() error {
			_, err := c.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: aws.String(subnet)})
			return err
		},
		func() error {
			_, err := c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: g.GroupId})
			return err
		},
		func() error {
			_, err := c.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(defGroup)})
			return err
		},
		func() error { _, err := c.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(vpcID)}); return err },
	} {
		require.NoError(t, step())
	}
	_, err = c.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(vpcID)})
	ec2Code(t, err, "InvalidVpcID.NotFound")
	assert.Equal(t, before, sim.Resources().EC2, "the VPC went with its default security group")
}

// TestEC2ShuttingDownLastsTerminateTime: with terminate_time set, a
// terminated instance is seen shutting-down first, its host already gone.
func TestEC2ShuttingDownLastsTerminateTime(t *testing.T) {
	sim := newSimWith(t, cloudsim.Faults{TerminateTime: cloudsim.Duration(time.Hour)})
	c := cloudsimtest.NewEC2Client(sim.Server, "", firstAnswers)
	id := runEC2(t, c, nil)
	term, err := c.TerminateInstances(t.Context(), &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
	require.NoError(t, err)
	assert.Equal(t, types.InstanceStateNameShuttingDown, term.TerminatingInstances[0].CurrentState.Name)
	assert.Equal(t, types.InstanceStateNameRunning, term.TerminatingInstances[0].PreviousState.Name)
	inst := describeInstance(t, c, id)
	assert.Equal(t, types.InstanceStateNameShuttingDown, inst.State.Name)
	assert.Empty(t, aws.ToString(inst.PublicIpAddress), "the public IP goes at once")
	res := sim.Resources().EC2
	require.Len(t, res.Instances, 1, "a shutting-down instance still holds its volumes")
	assert.Equal(t, "shutting-down", res.Instances[0].State)
}
