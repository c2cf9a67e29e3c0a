package cloudsim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"testing"
	"time"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/responses"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/cloudsim"
	"github.com/fleetdock/machine/integration/cloudsim/cloudsimtest"
)

const region = cloudsimtest.Region

// quiet keeps the simulator's logs out of test output.
var quiet = slog.New(slog.DiscardHandler)

// newSim starts a simulator with the none backend and instant transitions.
func newSim(t *testing.T) *cloudsimtest.Sim {
	t.Helper()
	return cloudsimtest.Start(t, cloudsim.Config{Faults: &cloudsim.Faults{}, Logger: quiet})
}

// newSimWith starts a simulator with the given faults.
func newSimWith(t *testing.T, f cloudsim.Faults) *cloudsimtest.Sim {
	t.Helper()
	return cloudsimtest.Start(t, cloudsim.Config{Faults: &f, Logger: quiet})
}

// ok checks an SDK call succeeded and that its answer decodes strictly into
// the SDK's response struct: no field the SDK does not know, no value of the
// wrong JSON type. The SDK's own decoder is lenient on both, so this is what
// keeps the simulator's answers true to the real shapes.
func ok(t *testing.T, resp responses.AcsResponse, err error) {
	t.Helper()
	require.NoError(t, err)
	require.True(t, resp.IsSuccess(), "HTTP %d: %s", resp.GetHttpStatus(), resp.GetHttpContentString())
	fresh := reflect.New(reflect.TypeOf(resp).Elem()).Interface()
	dec := json.NewDecoder(bytes.NewReader(resp.GetHttpContentBytes()))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(fresh), "the answer does not match %T exactly:\n%s", resp, resp.GetHttpContentString())
}

// apiErr returns the SDK's server error of a failed call.
func apiErr(t *testing.T, err error) *sdkerrors.ServerError {
	t.Helper()
	require.Error(t, err)
	var se *sdkerrors.ServerError
	require.True(t, errors.As(err, &se), "want a server error, got %T: %v", err, err)
	return se
}

// requireAPIError checks a call failed with code and HTTP status.
func requireAPIError(t *testing.T, err error, code string, status int) *sdkerrors.ServerError {
	t.Helper()
	se := apiErr(t, err)
	require.Equal(t, code, se.ErrorCode(), "message: %s", se.Message())
	require.Equal(t, status, se.HttpStatus(), "code %s", code)
	require.NotEmpty(t, se.RequestId())
	return se
}

// eventually polls cond with backoff until it holds or the deadline passes.
func eventually(t *testing.T, what string, timeout time.Duration, cond func() (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	delay := 10 * time.Millisecond
	var last error
	for {
		done, err := cond()
		if err != nil {
			last = err
		}
		if done {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waited %s for %s; last error: %v", timeout, what, last)
		case <-time.After(delay):
		}
		delay = min(delay*2, 500*time.Millisecond)
	}
}

// instanceStatus returns an instance's status through DescribeInstances.
func instanceStatus(t *testing.T, sim *cloudsimtest.Sim, id string) string {
	t.Helper()
	req := ecs.CreateDescribeInstancesRequest()
	req.RegionId = region
	req.InstanceIds = `["` + id + `"]`
	resp, err := sim.ECS.DescribeInstances(req)
	ok(t, resp, err)
	require.Len(t, resp.Instances.Instance, 1)
	return resp.Instances.Instance[0].Status
}

// waitStatus waits for an instance to reach status.
func waitStatus(t *testing.T, sim *cloudsimtest.Sim, id, status string) {
	t.Helper()
	eventually(t, "instance "+id+" to be "+status, 30*time.Second, func() (bool, error) {
		return instanceStatus(t, sim, id) == status, nil
	})
}

// createGroup makes a security group in the default VPC.
func createGroup(t *testing.T, sim *cloudsimtest.Sim) string {
	t.Helper()
	req := ecs.CreateCreateSecurityGroupRequest()
	req.RegionId = region
	req.VpcId = defaultVpc(t, sim)
	req.SecurityGroupName = "test-group"
	resp, err := sim.ECS.CreateSecurityGroup(req)
	ok(t, resp, err)
	return resp.SecurityGroupId
}

// defaultVpc returns the region's default VPC.
func defaultVpc(t *testing.T, sim *cloudsimtest.Sim) string {
	t.Helper()
	req := ecs.CreateDescribeVpcsRequest()
	req.RegionId = region
	req.IsDefault = "true"
	resp, err := sim.ECS.DescribeVpcs(req)
	ok(t, resp, err)
	require.Len(t, resp.Vpcs.Vpc, 1)
	return resp.Vpcs.Vpc[0].VpcId
}

// runInstance starts one instance in the group and waits until it runs.
func runInstance(t *testing.T, sim *cloudsimtest.Sim, group string, mutate func(*ecs.RunInstancesRequest)) string {
	t.Helper()
	req := ecs.CreateRunInstancesRequest()
	req.RegionId = region
	req.ImageId = "ubuntu_22_04_x64_20G_alibase_20240130.vhd"
	req.InstanceType = "ecs.g6.large"
	req.SecurityGroupId = group
	if mutate != nil {
		mutate(req)
	}
	resp, err := sim.ECS.RunInstances(req)
	ok(t, resp, err)
	require.Len(t, resp.InstanceIdSets.InstanceIdSet, 1)
	id := resp.InstanceIdSets.InstanceIdSet[0]
	waitStatus(t, sim, id, "Running")
	return id
}

// addresses returns an instance's private and public IP.
func addresses(t *testing.T, sim *cloudsimtest.Sim, id string) (private, public string) {
	t.Helper()
	req := ecs.CreateDescribeInstanceAttributeRequest()
	req.InstanceId = id
	resp, err := sim.ECS.DescribeInstanceAttribute(req)
	ok(t, resp, err)
	require.Len(t, resp.VpcAttributes.PrivateIpAddress.IpAddress, 1)
	if len(resp.PublicIpAddress.IpAddress) > 0 {
		public = resp.PublicIpAddress.IpAddress[0]
	}
	return resp.VpcAttributes.PrivateIpAddress.IpAddress[0], public
}
