package libmachine

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/docker/machine/libmachine/state"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/cloudsim"
	"github.com/fleetdock/machine/integration/cloudsim/cloudsimtest"
	"github.com/fleetdock/machine/libmachine/capability"
	"github.com/fleetdock/machine/libmachine/plugin"
)

// A plugin binary answers Statuses for machines other than the one it was
// opened for: each configuration is decoded by the driver in the plugin
// process, and one DescribeInstances answers for all of them.
func TestPluginAnswersStatusesForOtherMachines(t *testing.T) {
	aliyunecsPluginOnPath(t)

	sim := cloudsimtest.Start(t, cloudsim.Config{Faults: &cloudsim.Faults{
		CreateTime: cloudsim.Duration(20 * time.Millisecond), BootTime: cloudsim.Duration(20 * time.Millisecond)}})
	sg := ecs.CreateCreateSecurityGroupRequest()
	sg.RegionId = cloudsimtest.Region
	group, err := sim.ECS.CreateSecurityGroup(sg)
	require.NoError(t, err)
	run := ecs.CreateRunInstancesRequest()
	run.RegionId = cloudsimtest.Region
	run.ImageId = "ubuntu_22_04_x64_20G_alibase_20240130.vhd"
	run.InstanceType = "ecs.n4.small"
	run.SecurityGroupId = group.SecurityGroupId
	run.InternetMaxBandwidthOut = "5"
	run.Amount = "3"
	ran, err := sim.ECS.RunInstances(run)
	require.NoError(t, err)
	ids := ran.InstanceIdSets.InstanceIdSet
	require.Len(t, ids, 3)
	require.Eventually(t, func() bool {
		running := 0
		for _, inst := range sim.Resources().Instances {
			if inst.Status == "Running" {
				running++
			}
		}
		return running == 3
	}, time.Minute, 20*time.Millisecond)

	key, secret := sim.Credentials()
	var configs [][]byte
	for i, id := range append(ids, "i-bp0000000000000gone0") {
		raw, err := json.Marshal(map[string]any{"MachineName": fmt.Sprintf("m%d", i), "Region": cloudsimtest.Region,
			"APIEndpoint": sim.Endpoint(), "AccessKey": key, "SecretKey": secret, "InstanceId": id})
		require.NoError(t, err)
		configs = append(configs, raw)
	}
	d, err := plugin.Open(t.Context(), "aliyunecs", configs[0], plugin.Options{MachineName: "m0"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	_, isPlugin := d.(*plugin.Client)
	require.True(t, isPlugin, "aliyunecs runs as a plugin binary here")

	fr, ok := capability.Get[capability.FleetReporter](d)
	require.True(t, ok, "the plugin's capability service offers fleet statuses")
	seq := sim.Calls(0)
	got, err := fr.Statuses(t.Context(), configs)
	require.NoError(t, err)
	calls := sim.Calls(int64(len(seq.Calls)))
	assert.Equal(t, 1, calls.Counts["DescribeInstances"]-seq.Counts["DescribeInstances"], "one DescribeInstances for four machines")
	require.Len(t, got, 4)
	for i := range 3 {
		assert.Equal(t, state.Running, got[i].State, "machine %d", i)
		assert.Regexp(t, `^tcp://127\.100\.\d+\.\d+:2376$`, got[i].URL, "machine %d", i)
	}
	assert.Equal(t, state.Error, got[3].State)
	assert.Contains(t, got[3].Err, `machine "m3": instance no longer exists`)
	assert.Equal(t, "m0", d.GetMachineName(), "the plugin's own machine is untouched")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = fr.Statuses(ctx, configs)
	assert.ErrorIs(t, err, context.Canceled, "the call gives up when its context ends")
}
