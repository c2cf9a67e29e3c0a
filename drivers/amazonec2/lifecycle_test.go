package amazonec2

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/docker/machine/libmachine/state"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func waitState(t *testing.T, d *Driver, want state.State) {
	t.Helper()
	require.Eventually(t, func() bool { st, _ := d.GetState(); return st == want }, 10*time.Second, 20*time.Millisecond, "state %s", want)
}

func TestLifecycleAgainstSimulator(t *testing.T) {
	s := startSim(t, fastFaults())
	before := s.snapshot()

	d := newDriver(t, s, "node-1", map[string]any{"amazonec2-tags": "team,infra,env,test"})
	require.NoError(t, d.PreCreateCheck())
	assert.NotEmpty(t, d.AMI, "the newest Ubuntu LTS was found")
	assert.NotEmpty(t, d.VpcId, "the default VPC was found")
	assert.NotEmpty(t, d.SubnetId, "the zone's default subnet was found")
	assert.NotEmpty(t, d.DeviceName, "the root device comes from the AMI")
	require.NoError(t, d.Create())

	st, err := d.GetState()
	require.NoError(t, err)
	assert.Equal(t, state.Running, st)
	ip, err := d.GetIP()
	require.NoError(t, err)
	assert.NotEmpty(t, ip)
	url, err := d.GetURL()
	require.NoError(t, err)
	assert.Equal(t, "tcp://"+ip+":2376", url)
	addrs, err := d.Addresses(t.Context())
	require.NoError(t, err)
	assert.Equal(t, []string{ip}, addrs.Public)
	assert.NotEmpty(t, addrs.Private)

	a, err := d.api(t.Context())
	require.NoError(t, err)
	inst, err := a.instance(t.Context(), d.InstanceId)
	require.NoError(t, err)
	require.NotNil(t, inst)
	assert.True(t, hasTag(inst.Tags, tagMachineID, d.Id))
	assert.True(t, hasTag(inst.Tags, "Name", "node-1"))
	assert.True(t, hasTag(inst.Tags, "team", "infra"))
	assert.Equal(t, d.KeyName, deref(inst.KeyName))
	require.NotNil(t, inst.MetadataOptions)
	assert.EqualValues(t, "required", inst.MetadataOptions.HttpTokens, "IMDSv2 by default")

	groups, err := a.securityGroups(t.Context(), nil)
	require.NoError(t, err)
	var ports []string
	for _, g := range groups {
		if deref(g.GroupName) != "docker-machine" {
			continue
		}
		for _, p := range g.IpPermissions {
			for _, r := range p.IpRanges {
				ports = append(ports, deref(p.IpProtocol)+" "+itoa(deref(p.FromPort))+"-"+itoa(deref(p.ToPort))+" "+deref(r.CidrIp))
			}
		}
	}
	assert.ElementsMatch(t, []string{"tcp 22-22 0.0.0.0/0", "tcp 2376-2376 0.0.0.0/0"}, ports, "only SSH and Docker are open")

	raw, err := json.Marshal(d)
	require.NoError(t, err)
	assert.Contains(t, string(raw), d.InstanceId)

	require.NoError(t, d.Stop())
	waitState(t, d, state.Stopped)
	require.NoError(t, d.Start())
	waitState(t, d, state.Running)
	require.NoError(t, d.Restart())
	waitState(t, d, state.Running)
	require.NoError(t, d.Kill())
	waitState(t, d, state.Stopped)
	require.NoError(t, d.Start())
	waitState(t, d, state.Running)
	addrs, err = d.Addresses(t.Context())
	require.NoError(t, err)
	ip, err = d.GetIP()
	require.NoError(t, err)
	assert.Equal(t, []string{ip}, addrs.Public, "the public address after a start is the one reported")

	require.NoError(t, d.Remove())
	s.requireSameAs(before, "after rm")
	require.NoError(t, d.Remove(), "a second rm finds nothing left and succeeds")
}

// A security group docker-machine made is shared by the machines that
// name it and deleted by the rm of the last of them, even when another
// machine made it.
func TestSharedSecurityGroupGoesWithTheLastMachine(t *testing.T) {
	s := startSim(t, fastFaults())
	before := s.snapshot()
	first := newDriver(t, s, "first", nil)
	require.NoError(t, first.PreCreateCheck())
	require.NoError(t, first.Create())
	second := newDriver(t, s, "second", map[string]any{"amazonec2-open-port": []string{"8080"}})
	require.NoError(t, second.PreCreateCheck())
	require.NoError(t, second.Create())
	assert.Equal(t, first.SecurityGroupIds, second.SecurityGroupIds, "one group for both")
	assert.Empty(t, second.CreatedSecurityGroupIds)

	require.NoError(t, first.Remove())
	a, err := second.api(t.Context())
	require.NoError(t, err)
	left, err := a.securityGroups(t.Context(), nil)
	require.NoError(t, err)
	assert.True(t, containsGroup(left, second.SecurityGroupIds[0]), "still used by the second machine")
	require.NoError(t, second.Remove())
	s.requireSameAs(before, "after both rm")
}

// A group of the user is used, never changed with --amazonec2-security-group-readonly,
// and never deleted.
func TestReadOnlyGroupIsNeverChanged(t *testing.T) {
	s := startSim(t, fastFaults())
	maker := newDriver(t, s, "maker", nil)
	require.NoError(t, maker.PreCreateCheck())
	a, err := maker.api(t.Context())
	require.NoError(t, err)
	out, err := a.ec2.CreateSecurityGroup(t.Context(), createGroupInput("users-own", maker.VpcId))
	require.NoError(t, err)
	before := s.snapshot()

	d := newDriver(t, s, "ro", map[string]any{"amazonec2-security-group-id": []string{deref(out.GroupId)}, "amazonec2-security-group-readonly": true})
	require.NoError(t, d.PreCreateCheck())
	require.NoError(t, d.Create())
	assert.Equal(t, []string{deref(out.GroupId)}, d.SecurityGroupIds)
	require.NoError(t, d.Remove())
	s.requireSameAs(before, "the user's group is as it was, and still there")
}
