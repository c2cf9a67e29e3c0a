package amazonec2

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/docker/machine/libmachine/state"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/cloudsim"
	"github.com/fleetdock/machine/libmachine/capability"
)

// runFleet starts n instances in region with RunInstances and returns
// their IDs and the stored configurations of n machines bound to them, as
// create would have stored them before any state call.
func (s *sim) runFleet(region string, n int) ([]string, [][]byte) {
	s.t.Helper()
	extra := map[string]any{"amazonec2-region": region}
	maker := newDriver(s.t, s, "fleet-maker-"+region, extra)
	require.NoError(s.t, maker.PreCreateCheck())
	ctx := context.Background()
	a, err := maker.api(ctx)
	require.NoError(s.t, err)
	var ids []string
	for len(ids) < n {
		// 20 a call: the account's instance limit.
		k := int32(min(20, n-len(ids)))
		run, err := a.ec2.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: ptr(maker.AMI), InstanceType: "t2.micro",
			MinCount: ptr(k), MaxCount: ptr(k), SubnetId: ptr(maker.SubnetId)})
		require.NoError(s.t, err)
		for _, inst := range run.Instances {
			ids = append(ids, deref(inst.InstanceId))
		}
	}
	require.Len(s.t, ids, n)
	configs := make([][]byte, n)
	for i, id := range ids {
		require.NoError(s.t, waitFor(ctx, "instance "+id+" to run", time.Minute, func(ctx context.Context) (bool, string, error) {
			inst, err := a.instance(ctx, id)
			if err != nil || inst == nil {
				return false, "", err
			}
			return instanceStateName(inst) == "running", string(instanceStateName(inst)), nil
		}))
		m := newDriver(s.t, s, fmt.Sprintf("%s-%03d", region, i), extra)
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

func TestStatusesDescribesOncePerRegionAndPage(t *testing.T) {
	s := startSim(t, fastFaults())
	east, eastConfigs := s.runFleet("us-east-1", 130)
	_, westConfigs := s.runFleet("us-west-2", 3)

	ctx := context.Background()
	d := newDriver(t, s, "stopper", nil)
	a, err := d.api(ctx)
	require.NoError(t, err)
	_, err = a.ec2.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{east[1]}})
	require.NoError(t, err)
	require.NoError(t, waitFor(ctx, "the instance to stop", time.Minute, func(ctx context.Context) (bool, string, error) {
		inst, err := a.instance(ctx, east[1])
		return err == nil && instanceStateName(inst) == "stopped", "", err
	}))
	_, err = a.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{east[2]}})
	require.NoError(t, err)
	// An instance EC2 has forgotten (terminated over an hour ago).
	forgotten := newDriver(t, s, "forgotten", nil)
	forgotten.InstanceId = "i-0123456789abcdef0"

	configs := append(append(eastConfigs, westConfigs...), mustJSON(t, forgotten), mustJSON(t, NewDriver("never-created", "")))
	seq := s.lastSeq()
	got, err := NewDriver("", "").Statuses(ctx, configs)
	require.NoError(t, err)
	calls := s.callsSince(seq)
	assert.Equal(t, map[string]int{"us-east-1": 2, "us-west-2": 1}, describesByRegion(calls),
		"one DescribeInstances per region and 100 instances: %v", calls)
	assert.Len(t, calls, 3, "no other call: %v", calls)

	require.Len(t, got, len(configs))
	assert.Equal(t, state.Running, got[0].State)
	assert.Regexp(t, `^tcp://[0-9.]+:2376$`, got[0].URL)
	assert.Empty(t, got[0].Err)
	assert.Equal(t, capability.MachineStatus{State: state.Stopped}, got[1])
	assert.Equal(t, state.Error, got[2].State)
	assert.Contains(t, got[2].Err, "instance no longer exists")
	assert.Equal(t, state.Running, got[len(eastConfigs)].State, "us-west-2's first")
	assert.Contains(t, got[len(got)-2].Err, "instance no longer exists")
	assert.Equal(t, state.None, got[len(got)-1].State)
	assert.Contains(t, got[len(got)-1].Err, "has no instance")

	// Each answer is the one the machine's own GetState and GetURL give.
	for _, i := range []int{0, 1, 2, 129, len(eastConfigs), len(got) - 2, len(got) - 1} {
		assert.Equal(t, perMachine(t, configs[i]), got[i], "machine %d", i)
	}
}

func TestStatusesTellsAFailedDescribeForEachMachineOfTheRegion(t *testing.T) {
	s := startSim(t, fastFaults())
	_, configs := s.runFleet("us-east-1", 2)
	f := *fastFaults()
	f.Failures = []cloudsim.Failure{{Action: "DescribeInstances", Code: "UnauthorizedOperation", Status: http.StatusForbidden}}
	s.setFaults(f)
	got, err := NewDriver("", "").Statuses(context.Background(), configs)
	require.NoError(t, err, "a failed describe is each machine's error, not the call's")
	require.Len(t, got, 2)
	for i, ms := range got {
		assert.Equal(t, state.Error, ms.State, "machine %d", i)
		assert.Contains(t, ms.Err, "looking up instance", "machine %d", i)
		assert.Contains(t, ms.Err, "UnauthorizedOperation", "machine %d", i)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}
