package aliyunecs

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/docker/machine/libmachine/state"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/cloudsim"
	"github.com/fleetdock/machine/libmachine/capability"
)

// runFleet starts n instances in region with RunInstances (100 a call, the
// ECS maximum) and returns the stored configurations of n machines bound
// to them, as create would have stored them before any state call.
func (s *sim) runFleet(region string, n int) ([]string, [][]byte) {
	s.t.Helper()
	d := newDriver(s.t, s, "fleet-maker-"+region, map[string]any{"aliyunecs-region": region})
	a, err := d.api()
	require.NoError(s.t, err)
	ctx := context.Background()
	sg := ecs.CreateCreateSecurityGroupRequest()
	sg.SecurityGroupName = "fleet"
	sgResp := ecs.CreateCreateSecurityGroupResponse()
	require.NoError(s.t, a.call(ctx, &a.ecs.Client, sg, sgResp))
	var ids []string
	for len(ids) < n {
		run := ecs.CreateRunInstancesRequest()
		run.ImageId = "ubuntu_22_04_x64_20G_alibase_20240130.vhd"
		run.InstanceType = "ecs.n4.small"
		run.SecurityGroupId = sgResp.SecurityGroupId
		run.InternetMaxBandwidthOut = "5"
		run.Amount = requests.NewInteger(min(100, n-len(ids)))
		resp := ecs.CreateRunInstancesResponse()
		require.NoError(s.t, a.call(ctx, &a.ecs.Client, run, resp))
		ids = append(ids, resp.InstanceIdSets.InstanceIdSet...)
	}
	configs := make([][]byte, n)
	for i, id := range ids {
		require.NoError(s.t, a.waitFor(ctx, "instance "+id+" to run", instanceTimeout, func(ctx context.Context) (bool, string, error) {
			inst, err := a.findInstance(ctx, id)
			if err != nil || inst == nil {
				return false, "", err
			}
			return inst.Status == "Running", inst.Status, nil
		}))
		m := newDriver(s.t, s, fmt.Sprintf("%s-%03d", region, i), map[string]any{"aliyunecs-region": region})
		m.InstanceId = id
		configs[i], err = json.Marshal(m)
		require.NoError(s.t, err)
	}
	return ids, configs
}

// perMachine is what GetState and GetURL of the machine's own driver say,
// as `ls` asked before there were fleet calls.
func perMachine(t *testing.T, raw []byte) capability.MachineStatus {
	t.Helper()
	m := NewDriver("", "")
	require.NoError(t, json.Unmarshal(raw, m))
	st, err := m.GetState()
	if err != nil {
		return capability.MachineStatus{State: st, Err: err.Error()}
	}
	ms := capability.MachineStatus{State: st}
	if st == state.Running {
		ms.URL, err = m.GetURL()
		require.NoError(t, err)
	}
	return ms
}

func describesByRegion(calls []cloudsim.Call) map[string]int {
	out := map[string]int{}
	for _, c := range calls {
		if c.Action == "DescribeInstances" {
			out[c.RegionID]++
		}
	}
	return out
}

func TestStatusesDescribesOncePerRegionAndHundredInstances(t *testing.T) {
	s := startSim(t, fastFaults())
	hz, hzConfigs := s.runFleet("cn-hangzhou", 130)
	_, bjConfigs := s.runFleet("cn-beijing", 3)

	d := newDriver(t, s, "stopper", map[string]any{"aliyunecs-region": "cn-hangzhou"})
	d.InstanceId = hz[1]
	require.NoError(t, d.Stop())
	a, err := d.api()
	require.NoError(t, err)
	_, err = a.waitInstance(context.Background(), hz[1], "Stopped")
	require.NoError(t, err)
	require.NoError(t, a.deleteInstance(context.Background(), hz[2]))

	configs := append(append(hzConfigs, bjConfigs...), mustJSON(t, NewDriver("never-created", "")))
	seq := s.lastSeq()
	got, err := NewDriver("", "").Statuses(context.Background(), configs)
	require.NoError(t, err)
	calls := s.callsSince(seq)
	assert.Equal(t, map[string]int{"cn-hangzhou": 2, "cn-beijing": 1}, describesByRegion(calls),
		"one DescribeInstances per region and 100 instances")
	assert.Len(t, calls, 3, "no other call")

	require.Len(t, got, len(configs))
	assert.Equal(t, state.Running, got[0].State)
	assert.Regexp(t, `^tcp://127\.100\.\d+\.\d+:2376$`, got[0].URL)
	assert.Empty(t, got[0].Err)
	assert.Equal(t, capability.MachineStatus{State: state.Stopped}, got[1])
	assert.Equal(t, state.Error, got[2].State)
	assert.Contains(t, got[2].Err, "instance no longer exists")
	assert.Equal(t, state.Running, got[len(hzConfigs)].State, "cn-beijing's first")
	assert.Equal(t, state.None, got[len(got)-1].State)
	assert.Contains(t, got[len(got)-1].Err, "has no instance")

	// Each answer is the one the machine's own GetState and GetURL give.
	for _, i := range []int{0, 1, 2, 129, len(hzConfigs), len(got) - 1} {
		assert.Equal(t, perMachine(t, configs[i]), got[i], "machine %d", i)
	}
}

func TestStatusesTellsAFailedDescribeForEachMachineOfTheRegion(t *testing.T) {
	s := startSim(t, fastFaults())
	_, hzConfigs := s.runFleet("cn-hangzhou", 2)
	_, bjConfigs := s.runFleet("cn-beijing", 1)
	f := *fastFaults()
	f.Failures = []cloudsim.Failure{{Action: "DescribeInstances", Code: "Forbidden.RAM", Status: http.StatusForbidden}}
	s.setFaults(f)
	got, err := NewDriver("", "").Statuses(context.Background(), append(hzConfigs, bjConfigs...))
	require.NoError(t, err, "a failed describe is each machine's error, not the call's")
	require.Len(t, got, 3)
	for i, ms := range got {
		assert.Equal(t, state.Error, ms.State, "machine %d", i)
		assert.Contains(t, ms.Err, "looking up instance", "machine %d", i)
		assert.Contains(t, ms.Err, "Forbidden.RAM", "machine %d", i)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}
