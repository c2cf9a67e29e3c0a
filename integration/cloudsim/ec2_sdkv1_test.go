package cloudsim_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	awsv1 "github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/awserr"
	credsv1 "github.com/aws/aws-sdk-go/aws/credentials"
	"github.com/aws/aws-sdk-go/aws/request"
	"github.com/aws/aws-sdk-go/aws/session"
	ec2v1 "github.com/aws/aws-sdk-go/service/ec2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

// TestEC2WithSDKv1 drives the simulator with aws-sdk-go v1, the SDK of the
// stock and rancher amazonec2 drivers: its signer, its stricter XML
// decoding and its error parsing must all work unchanged.
func TestEC2WithSDKv1(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	sim := newSim(t)
	id, secret := sim.AWSCredentials()
	sess, err := session.NewSessionWithOptions(session.Options{Config: awsv1.Config{
		Region: awsv1.String("us-east-1"), Endpoint: awsv1.String(sim.EC2Endpoint()), DisableSSL: awsv1.Bool(true),
		Credentials: credsv1.NewStaticCredentials(id, secret, ""), MaxRetries: awsv1.Int(0),
	}, SharedConfigState: session.SharedConfigDisable})
	require.NoError(t, err)
	c := ec2v1.New(sess)

	regions, err := c.DescribeRegions(&ec2v1.DescribeRegionsInput{})
	require.NoError(t, err)
	assert.Len(t, regions.Regions, 6)

	pub, _, err := ed25519Key()
	require.NoError(t, err)
	_, err = c.ImportKeyPair(&ec2v1.ImportKeyPairInput{KeyName: awsv1.String("v1"), PublicKeyMaterial: ssh.MarshalAuthorizedKey(pub)})
	require.NoError(t, err)
	_, err = c.ImportKeyPair(&ec2v1.ImportKeyPairInput{KeyName: awsv1.String("v1"), PublicKeyMaterial: ssh.MarshalAuthorizedKey(pub)})
	var ae awserr.RequestFailure
	require.True(t, errors.As(err, &ae), "%v", err)
	assert.Equal(t, "InvalidKeyPair.Duplicate", ae.Code())
	assert.Equal(t, 400, ae.StatusCode())
	assert.NotEmpty(t, ae.RequestID())

	images, err := c.DescribeImages(&ec2v1.DescribeImagesInput{Owners: awsv1.StringSlice([]string{"099720109477"}),
		Filters: []*ec2v1.Filter{{Name: awsv1.String("name"), Values: awsv1.StringSlice([]string{"ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-*"})}}})
	require.NoError(t, err)
	require.Len(t, images.Images, 1)
	g, err := c.CreateSecurityGroup(&ec2v1.CreateSecurityGroupInput{GroupName: awsv1.String("docker-machine"), Description: awsv1.String("d")})
	require.NoError(t, err)
	_, err = c.AuthorizeSecurityGroupIngress(&ec2v1.AuthorizeSecurityGroupIngressInput{GroupId: g.GroupId, IpPermissions: []*ec2v1.IpPermission{
		{IpProtocol: awsv1.String("tcp"), FromPort: awsv1.Int64(22), ToPort: awsv1.Int64(22), IpRanges: []*ec2v1.IpRange{{CidrIp: awsv1.String("0.0.0.0/0")}}}}})
	require.NoError(t, err)

	run, err := c.RunInstances(&ec2v1.RunInstancesInput{ImageId: images.Images[0].ImageId, InstanceType: awsv1.String("t2.micro"),
		MinCount: awsv1.Int64(1), MaxCount: awsv1.Int64(1), KeyName: awsv1.String("v1"),
		UserData: awsv1.String(base64.StdEncoding.EncodeToString([]byte("#!/bin/sh\ntrue\n"))),
		NetworkInterfaces: []*ec2v1.InstanceNetworkInterfaceSpecification{{DeviceIndex: awsv1.Int64(0), Groups: []*string{g.GroupId},
			AssociatePublicIpAddress: awsv1.Bool(true)}},
		BlockDeviceMappings: []*ec2v1.BlockDeviceMapping{{DeviceName: awsv1.String("/dev/sda1"),
			Ebs: &ec2v1.EbsBlockDevice{VolumeSize: awsv1.Int64(16), VolumeType: awsv1.String("gp2"), DeleteOnTermination: awsv1.Bool(true)}}},
	})
	require.NoError(t, err)
	instID := run.Instances[0].InstanceId
	require.NoError(t, c.WaitUntilInstanceRunningWithContext(t.Context(), &ec2v1.DescribeInstancesInput{InstanceIds: []*string{instID}},
		func(w *request.Waiter) { w.Delay = request.ConstantWaiterDelay(20 * time.Millisecond) }))
	desc, err := c.DescribeInstances(&ec2v1.DescribeInstancesInput{InstanceIds: []*string{instID}})
	require.NoError(t, err)
	inst := desc.Reservations[0].Instances[0]
	assert.Equal(t, "running", awsv1.StringValue(inst.State.Name))
	assert.Regexp(t, `^127\.100\.`, awsv1.StringValue(inst.PublicIpAddress))
	assert.Equal(t, int64(16), awsv1.Int64Value(inst.State.Code))
	require.Len(t, inst.BlockDeviceMappings, 1)
	assert.NotEmpty(t, awsv1.StringValue(inst.BlockDeviceMappings[0].Ebs.VolumeId))
	assert.False(t, inst.LaunchTime.IsZero(), "v1 parses the launch time")

	_, err = c.TerminateInstances(&ec2v1.TerminateInstancesInput{InstanceIds: []*string{instID}})
	require.NoError(t, err)
	require.NoError(t, c.WaitUntilInstanceTerminatedWithContext(t.Context(), &ec2v1.DescribeInstancesInput{InstanceIds: []*string{instID}},
		func(w *request.Waiter) { w.Delay = request.ConstantWaiterDelay(20 * time.Millisecond) }))
	_, err = c.DeleteSecurityGroup(&ec2v1.DeleteSecurityGroupInput{GroupId: g.GroupId})
	require.NoError(t, err)
	_, err = c.DeleteKeyPair(&ec2v1.DeleteKeyPairInput{KeyName: awsv1.String("v1")})
	require.NoError(t, err)
	assert.Empty(t, sim.Resources().EC2.KeyPairs)
}

func ed25519Key() (ssh.PublicKey, []byte, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	sp, err := ssh.NewPublicKey(pub)
	return sp, priv, err
}
