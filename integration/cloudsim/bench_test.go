package cloudsim_test

import (
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/fleetdock/machine/integration/cloudsim"
	"github.com/fleetdock/machine/integration/cloudsim/cloudsimtest"
)

// BenchmarkDescribeInstances measures one signed SDK round trip: sign,
// verify, list 50 instances, encode, decode.
func BenchmarkDescribeInstances(b *testing.B) {
	sim := cloudsimtest.Start(b, cloudsim.Config{Faults: &cloudsim.Faults{}, Logger: quiet})
	sg := ecs.CreateCreateSecurityGroupRequest()
	sg.RegionId = region
	group, err := sim.ECS.CreateSecurityGroup(sg)
	if err != nil {
		b.Fatal(err)
	}
	run := ecs.CreateRunInstancesRequest()
	run.RegionId = region
	run.ImageId = ubuntu
	run.InstanceType = "ecs.n4.small"
	run.SecurityGroupId = group.SecurityGroupId
	run.Amount = "50"
	if _, err := sim.ECS.RunInstances(run); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		req := ecs.CreateDescribeInstancesRequest()
		req.RegionId = region
		req.PageSize = "50"
		resp, err := sim.ECS.DescribeInstances(req)
		if err != nil || len(resp.Instances.Instance) != 50 {
			b.Fatalf("DescribeInstances: %v (%d instances)", err, len(resp.Instances.Instance))
		}
	}
}
