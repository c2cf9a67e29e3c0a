package aliyunecs

import (
	"encoding/json"
	"testing"

	"github.com/docker/machine/libmachine/state"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLifecycleAgainstSimulator(t *testing.T) {
	s := startSim(t, fastFaults())
	lb := s.createSLB("cn-hangzhou")
	before := s.snapshot()

	d := newDriver(t, s, "node-1", map[string]any{
		"aliyunecs-slb-id": lb,
		"aliyunecs-tag":    []string{"team=infra", "env=test"},
	})
	require.NoError(t, d.PreCreateCheck())
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

	r := s.resources()
	require.Len(t, r.Instances, 1)
	inst := r.Instances[0]
	assert.Equal(t, d.InstanceId, inst.ID)
	assert.Equal(t, ip, inst.PublicIP)
	assert.Equal(t, "node-1", inst.Name)
	tags := tagsOf(r, inst.ID)
	assert.Equal(t, d.MachineID, tags[tagMachineID])
	assert.Equal(t, "infra", tags["team"])
	require.Len(t, r.BackendServers, 1)
	assert.Equal(t, inst.ID, r.BackendServers[0].ServerID)
	assert.Equal(t, 100, r.BackendServers[0].Weight)
	require.Len(t, r.SecurityGroups, 1)
	var ports []string
	for _, rule := range r.SecurityGroups[0].Rules {
		if rule.Direction == "ingress" {
			ports = append(ports, rule.IpProtocol+" "+rule.PortRange+" "+rule.Source)
		}
	}
	assert.ElementsMatch(t, []string{"tcp 22/22 0.0.0.0/0", "tcp 2376/2376 0.0.0.0/0"}, ports, "only SSH and Docker are open")

	raw, err := json.Marshal(d)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), "DataDisk", "no data disk asked for")

	require.NoError(t, d.Stop())
	require.Eventually(t, func() bool { st, _ := d.GetState(); return st == state.Stopped }, 10e9, 20e6)
	require.NoError(t, d.Start())
	require.Eventually(t, func() bool { st, _ := d.GetState(); return st == state.Running }, 10e9, 20e6)
	require.NoError(t, d.Restart())
	require.Eventually(t, func() bool { st, _ := d.GetState(); return st == state.Running }, 10e9, 20e6)
	require.NoError(t, d.Kill())
	require.Eventually(t, func() bool { st, _ := d.GetState(); return st == state.Stopped }, 10e9, 20e6)
	require.NoError(t, d.Start())
	require.Eventually(t, func() bool { st, _ := d.GetState(); return st == state.Running }, 10e9, 20e6)

	require.NoError(t, d.Remove())
	s.requireSameAs(before, "after rm")
	require.NoError(t, d.Remove(), "a second rm finds nothing left and succeeds")
}
