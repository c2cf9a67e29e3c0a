//go:build integration

package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/cloudsim/cloudsimtest"
	"github.com/fleetdock/machine/integration/hostworld"
)

// TestBinaryRemovesItsContainersOnSIGTERM: an instance of the container
// backend is a real container, and SIGTERM leaves none behind.
func TestBinaryRemovesItsContainersOnSIGTERM(t *testing.T) {
	hostworld.RequireDocker(t)
	bin := filepath.Join(t.TempDir(), "cloudsim")
	out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "building cloudsim: %s", out)

	// Port 2222 instead of 22: this test does not need root.
	cmd := exec.CommandContext(t.Context(), bin, "serve", "--backend", "container", "--public-ports", "2222", "--boot-time", "0s")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	got := readyLine(t, stdout)

	client, err := cloudsimtest.NewECSClient(strings.TrimPrefix(got.Endpoint, "http://"), "cn-hangzhou", got.AccessKeyID, got.AccessKeySecret)
	require.NoError(t, err)
	sg := ecs.CreateCreateSecurityGroupRequest()
	sg.RegionId = "cn-hangzhou"
	group, err := client.CreateSecurityGroup(sg)
	require.NoError(t, err)
	run := ecs.CreateRunInstancesRequest()
	run.RegionId = "cn-hangzhou"
	run.ImageId = "debian_12_4_x64_20G_alibase_20240126.vhd"
	run.InstanceType = "ecs.n4.small"
	run.SecurityGroupId = group.SecurityGroupId
	resp, err := client.RunInstances(run)
	require.NoError(t, err)
	id := resp.InstanceIdSets.InstanceIdSet[0]

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	for {
		req := ecs.CreateDescribeInstanceStatusRequest()
		req.RegionId = "cn-hangzhou"
		st, err := client.DescribeInstanceStatus(req)
		require.NoError(t, err)
		if len(st.InstanceStatuses.InstanceStatus) == 1 && st.InstanceStatuses.InstanceStatus[0].Status == "Running" {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("instance %s did not reach Running; cloudsim said:\n%s", id, stderr.String())
		case <-time.After(500 * time.Millisecond):
		}
	}
	require.True(t, containerPresent(t, id), "a Running instance is a container")

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), "stderr: %s", stderr.String())
	assert.False(t, containerPresent(t, id), "SIGTERM removes every container cloudsim started")
}

func containerPresent(t *testing.T, id string) bool {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "docker", "ps", "--all", "--quiet", "--filter", "label=fleetdock.cloudsim.instance="+id).Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out)) != ""
}
