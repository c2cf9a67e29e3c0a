//go:build integration

package cloudsim_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

// TestEC2ContainerInstance runs an EC2 instance as a real host: SSH as the
// image's user with the key pair at the public IP, user data run once,
// stop/start with a new public IP, terminate removing the container.
func TestEC2ContainerInstance(t *testing.T) {
	sim := containerSim(t)
	c := sim.EC2
	ctx := t.Context()
	key, err := c.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("itest")})
	require.NoError(t, err)
	signer, err := ssh.ParsePrivateKey([]byte(aws.ToString(key.KeyMaterial)))
	require.NoError(t, err)
	byKey := ssh.PublicKeys(signer)
	group := ec2Group(t, c, "itest")
	script := "#!/bin/sh\necho ran >> /root/user-data-runs\n"
	run, err := c.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: ubuntuImage(t, c).ImageId, InstanceType: types.InstanceTypeT3Micro, MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		KeyName: aws.String("itest"), SecurityGroupIds: []string{group}, UserData: aws.String(base64.StdEncoding.EncodeToString([]byte(script))),
	})
	require.NoError(t, err)
	id := aws.ToString(run.Instances[0].InstanceId)
	t.Cleanup(func() {
		_, _ = c.TerminateInstances(t.Context(), &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
	})
	waitEC2 := func(state types.InstanceStateName) types.Instance {
		t.Helper()
		var inst types.Instance
		eventually(t, "instance "+id+" to be "+string(state), 3*time.Minute, func() (bool, error) {
			inst = describeInstance(t, c, id)
			return inst.State.Name == state, nil
		})
		return inst
	}
	inst := waitEC2(types.InstanceStateNameRunning)
	public := aws.ToString(inst.PublicIpAddress)
	require.True(t, strings.HasPrefix(public, "127.100."), public)

	out, err := sshRunAs("ubuntu", public, byKey, "hostname")
	require.NoError(t, err, "SSH as ubuntu with the key pair at the public IP %s", public)
	assert.True(t, strings.HasPrefix(out, "ip-"), "EC2-style hostname, got %q", out)
	eventually(t, "the user data to have run", time.Minute, func() (bool, error) {
		out, err := sshRunAs("ubuntu", public, byKey, "sudo -n cat /root/user-data-runs")
		return err == nil && out == "ran", err
	})

	_, err = c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{id}})
	require.NoError(t, err)
	waitEC2(types.InstanceStateNameStopped)
	_, err = sshRunAs("ubuntu", public, byKey, "true")
	require.Error(t, err, "a stopped instance's old public IP answers no more")
	_, err = c.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{id}})
	require.NoError(t, err)
	inst = waitEC2(types.InstanceStateNameRunning)
	public = aws.ToString(inst.PublicIpAddress)
	eventually(t, "SSH after the start", time.Minute, func() (bool, error) {
		out, err := sshRunAs("ubuntu", public, byKey, "sudo -n cat /root/user-data-runs")
		return err == nil && out == "ran", err
	})

	_, err = c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
	require.NoError(t, err)
	waitEC2(types.InstanceStateNameTerminated)
	assert.False(t, containerExists(t, id), "the host is gone once the instance is terminated")
	assert.Empty(t, sim.Resources().EC2.Instances)
	assert.Empty(t, sim.Resources().Forwarders)
}
