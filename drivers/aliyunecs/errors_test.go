package aliyunecs

import (
	"context"
	"testing"

	rpcdriver "github.com/docker/machine/libmachine/drivers/rpc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/libmachine/capability"
)

// A wrong secret is named as such, without the string-to-sign the service
// quotes, and the secret itself never appears.
func TestWrongSecretSaysWhatToCheck(t *testing.T) {
	s := startSim(t, fastFaults())
	const wrong = "not-the-secret-at-all"
	d := newDriver(t, s, "m1", map[string]any{"aliyunecs-access-key-secret": wrong})
	err := d.PreCreateCheckContext(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "SignatureDoesNotMatch: the access key secret does not belong to the access key ID; check the secret given with --aliyunecs-access-key-secret")
	assert.NotContains(t, err.Error(), "StringToSign")
	assert.NotContains(t, err.Error(), "string to sign")
	assert.NotContains(t, err.Error(), wrong)
}

func TestPasswordRule(t *testing.T) {
	for _, tc := range []struct {
		password string
		wantErr  string
	}{
		{"Good:pass1", ""},
		{"Sp ace!Pass1", "has a character ECS does not accept (spaces included)"},
		{"Ünicode!Pass1", "has a character ECS does not accept"},
		{"short1A", "8 to 30 characters"},
		{"alllowercaseletters", "at least three of"},
	} {
		d := NewDriver("m1", "")
		v := flagValues(d, nil)
		v["aliyunecs-ssh-password"] = tc.password
		err := d.SetConfigFromFlags(&rpcdriver.RPCFlags{Values: v})
		if tc.wantErr == "" {
			assert.NoError(t, err, tc.password)
			continue
		}
		require.Error(t, err, tc.password)
		assert.Contains(t, err.Error(), tc.wantErr, tc.password)
		assert.NotContains(t, err.Error(), tc.password, "the password never appears in the error")
	}
}

func TestResourcesNameWhatTheMachineOwns(t *testing.T) {
	d := NewDriver("m1", "")
	d.Region, d.MachineID = "cn-beijing", "mid-1"
	assert.Equal(t, []capability.Resource{{Kind: "resources tagged docker-machine-id", ID: "mid-1", Region: "cn-beijing"}}, d.Resources(),
		"before any ID is stored, the tag finds them")
	d.InstanceId, d.EIPAllocationId = "i-1", "eip-1"
	d.KeyPairName, d.KeyPairCreated = "kp", true
	d.SecurityGroupId = "sg-shared" // not made by docker-machine: not ours to name
	d.SLBID, d.SLBBackendAdded = "lb-1", true
	var names []string
	for _, r := range d.Resources() {
		names = append(names, r.String())
	}
	assert.Equal(t, []string{
		"load balancer backend (of lb-1) i-1 in cn-beijing",
		"EIP eip-1 in cn-beijing",
		"instance i-1 in cn-beijing",
		"key pair kp in cn-beijing",
	}, names)
}
