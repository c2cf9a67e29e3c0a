package amazonec2

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// With --amazonec2-private-address-only the instance gets no public
// address and is reached at its private one.
func TestPrivateAddressOnly(t *testing.T) {
	s := startSim(t, fastFaults())
	before := s.snapshot()
	d := newDriver(t, s, "private", map[string]any{"amazonec2-private-address-only": true})
	require.NoError(t, d.PreCreateCheck())
	require.NoError(t, d.Create())
	ip, err := d.GetIP()
	require.NoError(t, err)
	assert.Equal(t, d.PrivateIPAddress, ip)
	assert.Empty(t, d.PublicIPAddress)
	addrs, err := d.Addresses(t.Context())
	require.NoError(t, err)
	assert.Empty(t, addrs.Public)
	assert.Equal(t, []string{ip}, addrs.Private)
	require.NoError(t, d.Remove())
	s.requireSameAs(before, "after rm")
}

// A given subnet settles VPC and zone; a subnet of another VPC than the
// one given, a group of another VPC, or an unknown subnet fail before
// anything is made, saying which flag to fix.
func TestSubnetAndGroupChecks(t *testing.T) {
	s := startSim(t, fastFaults())
	probe := newDriver(t, s, "probe", map[string]any{"amazonec2-zone": "b"})
	require.NoError(t, probe.PreCreateCheck())
	a, err := probe.api(t.Context())
	require.NoError(t, err)
	vpc, err := sdkClient(a).CreateVpc(t.Context(), &ec2.CreateVpcInput{CidrBlock: ptr("10.9.0.0/16")})
	require.NoError(t, err)
	otherVPC := deref(vpc.Vpc.VpcId)
	sg, err := a.ec2.CreateSecurityGroup(t.Context(), createGroupInput("elsewhere", otherVPC))
	require.NoError(t, err)
	before := s.snapshot()

	d := newDriver(t, s, "by-subnet", map[string]any{"amazonec2-subnet-id": probe.SubnetId})
	require.NoError(t, d.PreCreateCheck())
	assert.Equal(t, probe.VpcId, d.VpcId)
	assert.Equal(t, "us-east-1b", d.regionZone(), "the subnet's zone")

	for _, tc := range []struct {
		flags map[string]any
		want  string
	}{
		{map[string]any{"amazonec2-subnet-id": probe.SubnetId, "amazonec2-vpc-id": otherVPC}, "not to --amazonec2-vpc-id " + otherVPC},
		{map[string]any{"amazonec2-subnet-id": "subnet-0000000000000000f"}, "--amazonec2-subnet-id"},
		{map[string]any{"amazonec2-vpc-id": otherVPC}, "unable to find a subnet of VPC " + otherVPC},
		{map[string]any{"amazonec2-ami": "ami-0000000000000000f"}, "AMI ami-0000000000000000f not found"},
	} {
		d := newDriver(t, s, "bad", tc.flags)
		err := d.PreCreateCheck()
		require.Error(t, err, "%v", tc.flags)
		assert.Contains(t, err.Error(), tc.want)
	}
	d = newDriver(t, s, "bad-group", map[string]any{"amazonec2-security-group-id": []string{deref(sg.GroupId)}})
	require.NoError(t, d.PreCreateCheck())
	err = d.Create()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is in VPC "+otherVPC)
	s.requireSameAs(before, "nothing made by the failed checks")
}

// The simulated gateway's rate limit (RequestLimitExceeded beyond a rate
// per access key) slows create and rm down but does not fail them.
func TestCreateUnderRateLimit(t *testing.T) {
	s := startSim(t, fastFaults())
	before := s.snapshot()
	f := *fastFaults()
	f.ThrottleRate, f.ThrottleBurst = 20, 3
	s.setFaults(f)
	retryBaseDelay = 50 * time.Millisecond
	t.Cleanup(func() { retryBaseDelay = 5 * time.Millisecond })
	seq := s.lastSeq()
	d := newDriver(t, s, "rate-limited", nil)
	require.NoError(t, d.PreCreateCheck())
	require.NoError(t, d.Create())
	require.NoError(t, d.Remove())
	throttled := 0
	for _, c := range s.callsSince(seq) {
		if c.Code == "RequestLimitExceeded" {
			throttled++
		}
	}
	assert.Greater(t, throttled, 0, "the rate limit must have bitten")
	s.setFaults(*fastFaults())
	s.requireSameAs(before, "after rm")
}
