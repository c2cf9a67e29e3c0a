package aliyunecs

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/fleetdock/machine/drivers/internal/wait"
)

// pageSize is the page size of list calls; 100 is the ECS maximum.
const pageSize = 100

// findInstance returns the instance, or nil when it does not exist.
func (a *api) findInstance(ctx context.Context, id string) (*ecs.Instance, error) {
	ids, _ := json.Marshal([]string{id})
	req := ecs.CreateDescribeInstancesRequest()
	req.InstanceIds = string(ids)
	resp := ecs.CreateDescribeInstancesResponse()
	if err := a.call(ctx, &a.ecs.Client, req, resp); err != nil {
		return nil, err
	}
	for i := range resp.Instances.Instance {
		if resp.Instances.Instance[i].InstanceId == id {
			return &resp.Instances.Instance[i], nil
		}
	}
	return nil, nil
}

// instancesByTag lists the instances tagged key=value.
func (a *api) instancesByTag(ctx context.Context, key, value string) ([]ecs.Instance, error) {
	var out []ecs.Instance
	for page := 1; ; page++ {
		req := ecs.CreateDescribeInstancesRequest()
		req.Tag = &[]ecs.DescribeInstancesTag{{Key: key, Value: value}}
		req.PageNumber = requests.NewInteger(page)
		req.PageSize = requests.NewInteger(pageSize)
		resp := ecs.CreateDescribeInstancesResponse()
		if err := a.call(ctx, &a.ecs.Client, req, resp); err != nil {
			return nil, err
		}
		for _, inst := range resp.Instances.Instance {
			// Check the tag ourselves too: an API that ignored the filter
			// must not make us delete someone else's instance.
			if hasTag(ecsTags(inst.Tags.Tag), key, value) {
				out = append(out, inst)
			}
		}
		if len(resp.Instances.Instance) < pageSize || page*pageSize >= resp.TotalCount {
			return out, nil
		}
	}
}

func (a *api) stopInstance(ctx context.Context, id string, force bool) error {
	req := ecs.CreateStopInstanceRequest()
	req.InstanceId = id
	req.ForceStop = requests.NewBoolean(force)
	// KeepCharging keeps the instance's public IP across a stop; the
	// economical mode would release it.
	req.StoppedMode = "KeepCharging"
	err := a.call(ctx, &a.ecs.Client, req, ecs.CreateStopInstanceResponse())
	if err != nil && a.underway(ctx, id, err, "Stopping", "Stopped") {
		return nil
	}
	return err
}

// waitInstance polls until the instance reaches status, failing early when
// it disappears.
func (a *api) waitInstance(ctx context.Context, id, status string) (*ecs.Instance, error) {
	var last *ecs.Instance
	err := a.waitFor(ctx, fmt.Sprintf("instance %s to be %s", id, status), instanceTimeout, func(ctx context.Context) (bool, string, error) {
		inst, err := a.findInstance(ctx, id)
		if err != nil {
			return false, "", err
		}
		if inst == nil {
			return false, "", fmt.Errorf("instance %s: %w", id, errInstanceGone)
		}
		last = inst
		return inst.Status == status, "status " + inst.Status, nil
	})
	return last, err
}

// waitInstanceGone polls until DescribeInstances no longer lists id.
func (a *api) waitInstanceGone(ctx context.Context, id string) error {
	find := func(ctx context.Context) (*ecs.Instance, error) { return a.findInstance(ctx, id) }
	return waitGone(ctx, a, fmt.Sprintf("instance %s to be deleted", id), instanceTimeout, find,
		func(_ context.Context, inst *ecs.Instance) (bool, string, error) {
			return false, "status " + inst.Status, nil
		})
}

// deletePollMax is the longest pause between attempts to delete an
// instance that is still booting.
var deletePollMax = time.Second

// deleteInstance deletes id whatever its state (Force stops a running
// one) and waits until it is gone. An instance still being created cannot
// be deleted yet, so that answer is waited out.
func (a *api) deleteInstance(ctx context.Context, id string) error {
	told := false
	// Someone waits on this, often after a Ctrl-C: it asks at least every
	// deletePollMax, so it ends soon after the boot does.
	err := wait.For(ctx, a.logger(), fmt.Sprintf("instance %s to accept deletion", id), instanceTimeout, pollInitial, max(pollInitial, deletePollMax), func(ctx context.Context) (bool, string, error) {
		req := ecs.CreateDeleteInstanceRequest()
		req.InstanceId = id
		req.Force = requests.NewBoolean(true)
		err := a.call(ctx, &a.ecs.Client, req, ecs.CreateDeleteInstanceResponse())
		switch {
		case err == nil, isNotFound(err):
			return true, "", nil
		case strings.HasPrefix(errorCode(err), "IncorrectInstanceStatus"), errorCode(err) == "DependencyViolation.RouteEntry":
			if !told {
				// ECS deletes an instance only once it has stopped or
				// runs: a booting one makes the user wait, so say why.
				told = true
				a.logger().Info("waiting for instance "+id+" to finish booting or stopping before it can be deleted (interrupting leaves it for a later docker-machine rm)", "code", errorCode(err))
			}
			return false, errorCode(err), nil
		}
		return false, "", err
	})
	if err != nil {
		return err
	}
	return a.waitInstanceGone(ctx, id)
}

// regions lists the region IDs the account can use.
func (a *api) regions(ctx context.Context) ([]string, error) {
	req := ecs.CreateDescribeRegionsRequest()
	if !a.customEndpoint() {
		req.Domain = centralECSDomain
	}
	resp := ecs.CreateDescribeRegionsResponse()
	if err := a.call(ctx, &a.ecs.Client, req, resp); err != nil {
		return nil, err
	}
	var out []string
	for _, r := range resp.Regions.Region {
		if r.Status == "" || strings.EqualFold(r.Status, "available") {
			out = append(out, r.RegionId)
		}
	}
	slices.Sort(out)
	return out, nil
}

// ubuntuVersion reads the Ubuntu release of a system image from its ID or
// OS name: "ubuntu_22_04_x64_20G_alibase_20240101.vhd", "Ubuntu 22.04 64位".
var ubuntuVersion = regexp.MustCompile(`(?i)ubuntu[ _-]*(\d{2})[._](\d{2})`)

type imageCandidate struct {
	id             string
	major, minor   int
	created, order string
}

// newestUbuntuLTS picks the newest Ubuntu LTS (an even year, .04) x86-64
// system image, the most recent build of it first.
func newestUbuntuLTS(images []ecs.Image) (string, bool) {
	var cands []imageCandidate
	for _, img := range images {
		if img.Architecture != "" && img.Architecture != "x86_64" {
			continue
		}
		if img.Status != "" && img.Status != "Available" {
			continue
		}
		if img.Platform != "" && !strings.EqualFold(img.Platform, "Ubuntu") {
			continue
		}
		m := ubuntuVersion.FindStringSubmatch(img.ImageId)
		if m == nil {
			m = ubuntuVersion.FindStringSubmatch(img.OSName)
		}
		if m == nil {
			m = ubuntuVersion.FindStringSubmatch(img.OSNameEn)
		}
		if m == nil {
			continue
		}
		major, _ := strconv.Atoi(m[1])
		minor, _ := strconv.Atoi(m[2])
		if major%2 != 0 || minor != 4 {
			continue
		}
		cands = append(cands, imageCandidate{id: img.ImageId, major: major, minor: minor, created: img.CreationTime, order: img.ImageId})
	}
	if len(cands) == 0 {
		return "", false
	}
	slices.SortFunc(cands, func(x, y imageCandidate) int {
		return cmp.Or(
			cmp.Compare(y.major, x.major),
			cmp.Compare(y.minor, x.minor),
			cmp.Compare(y.created, x.created),
			cmp.Compare(y.order, x.order),
		)
	})
	return cands[0].id, true
}

// defaultImage asks for the region's public Linux system images and picks
// the newest Ubuntu LTS.
func (a *api) defaultImage(ctx context.Context) (string, error) {
	var all []ecs.Image
	for page := 1; ; page++ {
		req := ecs.CreateDescribeImagesRequest()
		req.ImageOwnerAlias = "system"
		req.OSType = "linux"
		req.Architecture = "x86_64"
		req.PageNumber = requests.NewInteger(page)
		req.PageSize = requests.NewInteger(pageSize)
		resp := ecs.CreateDescribeImagesResponse()
		if err := a.call(ctx, &a.ecs.Client, req, resp); err != nil {
			return "", err
		}
		all = append(all, resp.Images.Image...)
		if len(resp.Images.Image) < pageSize || page*pageSize >= resp.TotalCount {
			break
		}
	}
	id, ok := newestUbuntuLTS(all)
	if !ok {
		return "", fmt.Errorf("no Ubuntu LTS system image found among the %d system images of region %s; pass --aliyunecs-image-id", len(all), a.region)
	}
	return id, nil
}

// imageExists checks an image given by flag, so a stale ID fails before
// anything is created.
func (a *api) imageExists(ctx context.Context, id string) (bool, error) {
	req := ecs.CreateDescribeImagesRequest()
	req.ImageId = id
	req.ShowExpired = requests.NewBoolean(false)
	resp := ecs.CreateDescribeImagesResponse()
	img, err := lookup(ctx, a, &a.ecs.Client, req, resp, func() []ecs.Image { return resp.Images.Image },
		func(img *ecs.Image) bool { return img.ImageId == id })
	return img != nil, err
}

// keyPair returns the named key pair, or nil.
func (a *api) keyPair(ctx context.Context, name string) (*ecs.KeyPair, error) {
	req := ecs.CreateDescribeKeyPairsRequest()
	req.KeyPairName = name
	resp := ecs.CreateDescribeKeyPairsResponse()
	return lookup(ctx, a, &a.ecs.Client, req, resp, func() []ecs.KeyPair { return resp.KeyPairs.KeyPair },
		func(kp *ecs.KeyPair) bool { return kp.KeyPairName == name })
}

func (a *api) deleteKeyPair(ctx context.Context, name string) error {
	names, _ := json.Marshal([]string{name})
	req := ecs.CreateDeleteKeyPairsRequest()
	req.KeyPairNames = string(names)
	err := a.call(ctx, &a.ecs.Client, req, ecs.CreateDeleteKeyPairsResponse())
	if isNotFound(err) {
		return nil
	}
	return err
}

// securityGroup returns the group by ID, or nil when it does not exist.
func (a *api) securityGroup(ctx context.Context, id string) (*ecs.SecurityGroup, error) {
	ids, _ := json.Marshal([]string{id})
	req := ecs.CreateDescribeSecurityGroupsRequest()
	req.SecurityGroupIds = string(ids)
	resp := ecs.CreateDescribeSecurityGroupsResponse()
	return lookup(ctx, a, &a.ecs.Client, req, resp, func() []ecs.SecurityGroup { return resp.SecurityGroups.SecurityGroup },
		func(sg *ecs.SecurityGroup) bool { return sg.SecurityGroupId == id })
}

// securityGroupByName finds the group named name in the VPC; several
// groups may share a name, and the oldest is the one creates settle on.
func (a *api) securityGroupByName(ctx context.Context, vpcID, name string) (*ecs.SecurityGroup, error) {
	groups, _, err := a.groupsNamed(ctx, vpcID, name)
	if err != nil || len(groups) == 0 {
		return nil, err
	}
	return &groups[0].Group, nil
}

// ingressRules lists the group's inbound accept rules.
func (a *api) ingressRules(ctx context.Context, id string) ([]ecs.Permission, error) {
	req := ecs.CreateDescribeSecurityGroupAttributeRequest()
	req.SecurityGroupId = id
	req.Direction = "ingress"
	resp := ecs.CreateDescribeSecurityGroupAttributeResponse()
	if err := a.call(ctx, &a.ecs.Client, req, resp); err != nil {
		return nil, err
	}
	return resp.Permissions.Permission, nil
}

func (a *api) deleteSecurityGroup(ctx context.Context, id string) error {
	req := ecs.CreateDeleteSecurityGroupRequest()
	req.SecurityGroupId = id
	err := a.call(ctx, &a.ecs.Client, req, ecs.CreateDeleteSecurityGroupResponse())
	if isNotFound(err) {
		return nil
	}
	return err
}

// ecsTags flattens ECS tags, which answer TagKey/TagValue in some calls
// and Key/Value in others.
func ecsTags(tags []ecs.Tag) map[string]string {
	out := map[string]string{}
	for _, t := range tags {
		addTag(out, t.TagKey, t.TagValue, t.Key, t.Value)
	}
	return out
}

// addTag records a tag under whichever of its two spellings the answer
// filled in.
func addTag(tags map[string]string, tagKey, tagValue, key, value string) {
	if tagKey == "" {
		tagKey, tagValue = key, value
	}
	if tagKey != "" {
		tags[tagKey] = tagValue
	}
}

func hasTag(tags map[string]string, key, value string) bool {
	v, ok := tags[key]
	return ok && v == value
}
