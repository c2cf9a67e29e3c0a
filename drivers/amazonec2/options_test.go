package amazonec2

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/drivers/internal/sshkey"
	"github.com/fleetdock/machine/integration/cloudsim"
)

// A create whose context ends returns promptly with the context's error,
// and what it had made is removed all the same.
func TestCancelledCreateRollsBack(t *testing.T) {
	f := fastFaults()
	f.CreateTime = cloudsim.Duration(time.Minute) // pending far longer than the test waits
	s := startSim(t, f)
	before := s.snapshot()
	d := newDriver(t, s, "cancelled", nil)
	require.NoError(t, d.PreCreateCheck())
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := d.CreateContext(ctx)
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
	assert.Contains(t, err.Error(), "everything it had made was removed again")
	assert.Less(t, time.Since(start), 30*time.Second, "no wait ran to its own deadline")
	s.requireSameAs(before, "after the cancelled create")
}

// gp3 IOPS and throughput reach the root volume, which is encrypted when
// the account encrypts EBS by default.
func TestVolumeOptionsAndAccountEncryption(t *testing.T) {
	s := startSim(t, fastFaults())
	d := newDriver(t, s, "volumes", map[string]any{"amazonec2-volume-iops": 4000, "amazonec2-volume-throughput": 250, "amazonec2-root-size": 30})
	a, err := d.api(t.Context())
	require.NoError(t, err)
	_, err = sdkClient(a).EnableEbsEncryptionByDefault(t.Context(), &ec2.EnableEbsEncryptionByDefaultInput{})
	require.NoError(t, err)
	before := s.snapshot()
	require.NoError(t, d.PreCreateCheck())
	assert.True(t, d.RootVolumeEncrypted)
	require.NoError(t, d.Create())

	out, err := sdkClient(a).DescribeVolumes(t.Context(), &ec2.DescribeVolumesInput{Filters: []types.Filter{filter("attachment.instance-id", d.InstanceId)}})
	require.NoError(t, err)
	require.Len(t, out.Volumes, 1)
	v := out.Volumes[0]
	assert.EqualValues(t, "gp3", v.VolumeType)
	assert.EqualValues(t, 30, deref(v.Size))
	assert.EqualValues(t, 4000, deref(v.Iops))
	assert.EqualValues(t, 250, deref(v.Throughput))
	assert.True(t, deref(v.Encrypted))
	assert.True(t, hasTag(v.Tags, tagMachineID, d.Id), "volumes are tagged at launch")
	require.NoError(t, d.Remove())
	s.requireSameAs(before, "after rm")
}

// An existing key pair is used with its private key and never deleted.
func TestExistingKeyPairIsKept(t *testing.T) {
	s := startSim(t, fastFaults())
	priv, pub, err := generateKey()
	require.NoError(t, err)
	keyPath := filepath.Join(t.TempDir(), "id_rsa")
	require.NoError(t, sshkey.WriteFiles(keyPath, priv, pub))
	maker := newDriver(t, s, "maker", nil)
	a, err := maker.api(t.Context())
	require.NoError(t, err)
	_, err = a.ec2.ImportKeyPair(t.Context(), &ec2.ImportKeyPairInput{KeyName: ptr("team-key"), PublicKeyMaterial: pub})
	require.NoError(t, err)
	before := s.snapshot()

	d := newDriver(t, s, "keyed", map[string]any{"amazonec2-keypair-name": "team-key", "amazonec2-ssh-keypath": keyPath})
	require.NoError(t, d.PreCreateCheck())
	require.NoError(t, d.Create())
	assert.Equal(t, "team-key", d.KeyName)
	require.NoError(t, d.Remove())
	s.requireSameAs(before, "the key pair is still there")

	missing := newDriver(t, s, "nokey", map[string]any{"amazonec2-keypair-name": "nobodys-key", "amazonec2-ssh-keypath": keyPath})
	err = missing.PreCreateCheck()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `key pair "nobodys-key" does not exist`)
}

// A machine written by stock docker-machine 0.16.2 (its config.json field
// names, no tags on anything) is removed by this driver: instance and key
// pair go, the security group it never made stays.
func TestRemoveStockMachine(t *testing.T) {
	s := startSim(t, fastFaults())
	maker := newDriver(t, s, "stock-1", nil)
	require.NoError(t, maker.PreCreateCheck())
	a, err := maker.api(t.Context())
	require.NoError(t, err)
	ctx := t.Context()
	sg, err := a.ec2.CreateSecurityGroup(ctx, createGroupInput("docker-machine", maker.VpcId))
	require.NoError(t, err)
	before := s.snapshot()
	_, pub, err := generateKey()
	require.NoError(t, err)
	_, err = a.ec2.ImportKeyPair(ctx, &ec2.ImportKeyPairInput{KeyName: ptr("stock-1"), PublicKeyMaterial: pub})
	require.NoError(t, err)
	run, err := a.ec2.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: ptr(maker.AMI), InstanceType: "t2.micro", MinCount: ptr(int32(1)), MaxCount: ptr(int32(1)),
		KeyName: ptr("stock-1"), SubnetId: ptr(maker.SubnetId), SecurityGroupIds: []string{deref(sg.GroupId)}})
	require.NoError(t, err)
	id, secret := s.AWSCredentials()
	stock := map[string]any{
		"IPAddress": "", "MachineName": "stock-1", "SSHUser": "ubuntu", "SSHPort": 22, "StorePath": t.TempDir(),
		"Id": "5d41402abc4b2a76b9719d911017c592", "AccessKey": id, "SecretKey": secret, "SessionToken": "",
		"Region": "us-east-1", "AMI": maker.AMI, "SSHKeyID": 0, "ExistingKey": false, "KeyName": "stock-1",
		"InstanceId": deref(run.Instances[0].InstanceId), "InstanceType": "t2.micro", "PrivateIPAddress": "",
		"SecurityGroupId": "", "SecurityGroupIds": []string{deref(sg.GroupId)}, "SecurityGroupName": "",
		"SecurityGroupNames": []string{"docker-machine"}, "SecurityGroupReadOnly": false, "OpenPorts": nil,
		"Tags": "", "ReservationId": "", "DeviceName": "/dev/sda1", "RootSize": 16, "VolumeType": "gp2",
		"IamInstanceProfile": "", "VpcId": maker.VpcId, "SubnetId": maker.SubnetId, "Zone": "a",
		"RequestSpotInstance": false, "SpotPrice": "0.50", "BlockDurationMinutes": 0, "PrivateIPOnly": false,
		"UsePrivateIP": false, "UseEbsOptimizedInstance": false, "Monitoring": false, "SSHPrivateKeyPath": "",
		"RetryCount": 5, "Endpoint": s.EC2Endpoint(), "DisableSSL": false, "UserDataFile": "",
	}
	raw, err := json.Marshal(stock)
	require.NoError(t, err)
	d := NewDriver("", "")
	require.NoError(t, json.Unmarshal(raw, d))
	st, err := d.GetState()
	require.NoError(t, err)
	assert.NotEqual(t, "", st.String())
	require.NoError(t, d.Remove())
	s.requireSameAs(before, "instance and key pair gone, the user's group kept")
}
