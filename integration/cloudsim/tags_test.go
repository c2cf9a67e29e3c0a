package cloudsim_test

import (
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/slb"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestECSTags(t *testing.T) {
	sim := newSim(t)
	group := createGroup(t, sim)
	inst := runInstance(t, sim, group, func(r *ecs.RunInstancesRequest) {
		r.Tag = &[]ecs.RunInstancesTag{{Key: "created", Value: "with-instance"}}
	})

	tag := ecs.CreateTagResourcesRequest()
	tag.RegionId = region
	tag.ResourceType = "instance"
	tag.ResourceId = &[]string{inst}
	tag.Tag = &[]ecs.TagResourcesTag{{Key: "env", Value: "ci"}, {Key: "owner", Value: "sim"}}
	tr, err := sim.ECS.TagResources(tag)
	ok(t, tr, err)

	bad := ecs.CreateTagResourcesRequest()
	bad.RegionId = region
	bad.ResourceType = "instance"
	bad.ResourceId = &[]string{"i-bpnothere"}
	bad.Tag = &[]ecs.TagResourcesTag{{Key: "env", Value: "ci"}}
	_, err = sim.ECS.TagResources(bad)
	requireAPIError(t, err, "InvalidResourceId.NotFound", 404)

	reserved := ecs.CreateTagResourcesRequest()
	reserved.RegionId = region
	reserved.ResourceType = "instance"
	reserved.ResourceId = &[]string{inst}
	reserved.Tag = &[]ecs.TagResourcesTag{{Key: "aliyun:x", Value: "y"}}
	_, err = sim.ECS.TagResources(reserved)
	requireAPIError(t, err, "InvalidTagKey.Malformed", 400)

	list := ecs.CreateListTagResourcesRequest()
	list.RegionId = region
	list.ResourceType = "instance"
	list.ResourceId = &[]string{inst}
	lr, err := sim.ECS.ListTagResources(list)
	ok(t, lr, err)
	got := map[string]string{}
	for _, tr := range lr.TagResources.TagResource {
		assert.Equal(t, inst, tr.ResourceId)
		assert.Equal(t, "instance", tr.ResourceType)
		got[tr.TagKey] = tr.TagValue
	}
	assert.Equal(t, map[string]string{"created": "with-instance", "env": "ci", "owner": "sim"}, got)

	byTag := ecs.CreateListTagResourcesRequest()
	byTag.RegionId = region
	byTag.ResourceType = "instance"
	byTag.Tag = &[]ecs.ListTagResourcesTag{{Key: "env", Value: "ci"}}
	br, err := sim.ECS.ListTagResources(byTag)
	ok(t, br, err)
	assert.Len(t, br.TagResources.TagResource, 3, "every tag of every matching resource")

	// A missing ID fails the whole call before any tag goes.
	badUntag := ecs.CreateUntagResourcesRequest()
	badUntag.RegionId = region
	badUntag.ResourceType = "instance"
	badUntag.ResourceId = &[]string{inst, "i-bpnothere"}
	badUntag.TagKey = &[]string{"owner"}
	_, err = sim.ECS.UntagResources(badUntag)
	requireAPIError(t, err, "InvalidResourceId.NotFound", 404)
	lr, err = sim.ECS.ListTagResources(list)
	ok(t, lr, err)
	assert.Len(t, lr.TagResources.TagResource, 3, "a failed untag leaves every tag")

	untag := ecs.CreateUntagResourcesRequest()
	untag.RegionId = region
	untag.ResourceType = "instance"
	untag.ResourceId = &[]string{inst}
	untag.TagKey = &[]string{"owner"}
	ur, err := sim.ECS.UntagResources(untag)
	ok(t, ur, err)

	// The legacy actions share the same tags.
	add := ecs.CreateAddTagsRequest()
	add.RegionId = region
	add.ResourceType = "securitygroup"
	add.ResourceId = group
	add.Tag = &[]ecs.AddTagsTag{{Key: "env", Value: "ci"}}
	addResp, err := sim.ECS.AddTags(add)
	ok(t, addResp, err)

	desc := ecs.CreateDescribeTagsRequest()
	desc.RegionId = region
	desc.Tag = &[]ecs.DescribeTagsTag{{Key: "env"}}
	dr, err := sim.ECS.DescribeTags(desc)
	ok(t, dr, err)
	require.Len(t, dr.Tags.Tag, 1)
	assert.Equal(t, "env", dr.Tags.Tag[0].TagKey)
	assert.Equal(t, 1, dr.Tags.Tag[0].ResourceTypeCount.Instance)
	assert.Equal(t, 1, dr.Tags.Tag[0].ResourceTypeCount.Securitygroup)

	rm := ecs.CreateRemoveTagsRequest()
	rm.RegionId = region
	rm.ResourceType = "securitygroup"
	rm.ResourceId = group
	rm.Tag = &[]ecs.RemoveTagsTag{{Key: "env"}}
	rmr, err := sim.ECS.RemoveTags(rm)
	ok(t, rmr, err)

	dreq := ecs.CreateDescribeInstancesRequest()
	dreq.RegionId = region
	dreq.InstanceIds = `["` + inst + `"]`
	di, err := sim.ECS.DescribeInstances(dreq)
	ok(t, di, err)
	require.Len(t, di.Instances.Instance, 1)
	keys := []string{}
	for _, tv := range di.Instances.Instance[0].Tags.Tag {
		keys = append(keys, tv.TagKey)
	}
	assert.ElementsMatch(t, []string{"created", "env"}, keys)
}

func TestVPCAndSLBTags(t *testing.T) {
	sim := newSim(t)
	vpcID := defaultVpc(t, sim)

	tag := vpc.CreateTagResourcesRequest()
	tag.RegionId = region
	tag.ResourceType = "VPC"
	tag.ResourceId = &[]string{vpcID}
	tag.Tag = &[]vpc.TagResourcesTag{{Key: "net", Value: "default"}}
	tr, err := sim.VPC.TagResources(tag)
	ok(t, tr, err)
	list := vpc.CreateListTagResourcesRequest()
	list.RegionId = region
	list.ResourceType = "VPC"
	list.ResourceId = &[]string{vpcID}
	lr, err := sim.VPC.ListTagResources(list)
	ok(t, lr, err)
	require.Len(t, lr.TagResources.TagResource, 1)
	assert.Equal(t, "VPC", lr.TagResources.TagResource[0].ResourceType)
	untag := vpc.CreateUnTagResourcesRequest()
	untag.RegionId = region
	untag.ResourceType = "VPC"
	untag.ResourceId = &[]string{vpcID}
	untag.All = "true"
	ur, err := sim.VPC.UnTagResources(untag)
	ok(t, ur, err)

	lb := createLB(t, sim)
	stag := slb.CreateTagResourcesRequest()
	stag.RegionId = region
	stag.ResourceType = "instance"
	stag.ResourceId = &[]string{lb}
	stag.Tag = &[]slb.TagResourcesTag{{Key: "tier", Value: "web"}}
	sr, err := sim.SLB.TagResources(stag)
	ok(t, sr, err)

	add := slb.CreateAddTagsRequest()
	add.RegionId = region
	add.LoadBalancerId = lb
	add.Tags = `[{"TagKey":"team","TagValue":"edge"}]`
	ar, err := sim.SLB.AddTags(add)
	ok(t, ar, err)

	sl := slb.CreateListTagResourcesRequest()
	sl.RegionId = region
	sl.ResourceType = "instance"
	sl.ResourceId = &[]string{lb}
	slr, err := sim.SLB.ListTagResources(sl)
	ok(t, slr, err)
	assert.Len(t, slr.TagResources.TagResource, 2)

	desc := slb.CreateDescribeTagsRequest()
	desc.RegionId = region
	desc.LoadBalancerId = lb
	dr, err := sim.SLB.DescribeTags(desc)
	ok(t, dr, err)
	assert.Equal(t, 2, dr.TotalCount)

	dl := slb.CreateDescribeLoadBalancersRequest()
	dl.RegionId = region
	dl.Tags = `[{"TagKey":"tier","TagValue":"web"}]`
	dlr, err := sim.SLB.DescribeLoadBalancers(dl)
	ok(t, dlr, err)
	assert.Equal(t, 1, dlr.TotalCount, "DescribeLoadBalancers filters by tag")

	rm := slb.CreateRemoveTagsRequest()
	rm.RegionId = region
	rm.LoadBalancerId = lb
	rm.Tags = `[{"TagKey":"team"}]`
	rmr, err := sim.SLB.RemoveTags(rm)
	ok(t, rmr, err)
	untagLB := slb.CreateUntagResourcesRequest()
	untagLB.RegionId = region
	untagLB.ResourceType = "instance"
	untagLB.ResourceId = &[]string{lb}
	untagLB.TagKey = &[]string{"tier"}
	ulr, err := sim.SLB.UntagResources(untagLB)
	ok(t, ulr, err)
	assert.Empty(t, sim.Resources().Tags)
}
