package amazonec2

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/docker/machine/libmachine/state"

	"github.com/fleetdock/machine/drivers/internal/instance"
	"github.com/fleetdock/machine/libmachine/capability"
)

var _ capability.FleetReporter = (*Driver)(nil)

// idsPerCall is how many instance IDs one DescribeInstances filters on.
// The IDs go in an instance-id filter, not in InstanceIds: with
// InstanceIds, one instance that no longer exists fails the whole call
// (InvalidInstanceID.NotFound), while a filter just leaves it out.
const idsPerCall = 100

// maxResults is the largest page DescribeInstances returns.
const maxResults = 1000

// Statuses tells the state of many machines of this driver with one
// DescribeInstances per region (and endpoint and credentials) and page:
// each configuration is decoded into a driver of its own, and its status
// is told as its GetState and GetURL tell it.
func (d *Driver) Statuses(ctx context.Context, configs [][]byte) ([]capability.MachineStatus, error) {
	out := make([]capability.MachineStatus, len(configs))
	type account struct {
		region, endpoint, profile, key, secret, token string
		disableSSL                                    bool
		retries                                       int
	}
	groups := map[account][]int{}
	machines := make([]*Driver, len(configs))
	for i, raw := range configs {
		m := NewDriver("", "")
		if err := json.Unmarshal(raw, m); err != nil {
			out[i] = capability.MachineStatus{State: state.Error, Err: fmt.Sprintf("reading the amazonec2 driver configuration: %v; the machine's config.json may be damaged", err)}
			continue
		}
		m.logger = d.logger
		machines[i] = m
		if m.InstanceId == "" {
			// GetState words this without asking the cloud.
			out[i] = m.instance().Status(dockerPort)
			continue
		}
		a := account{m.Region, m.Endpoint, m.Profile, m.AccessKey, m.SecretKey, m.SessionToken, m.DisableSSL, m.RetryCount}
		groups[a] = append(groups[a], i)
	}
	var wg sync.WaitGroup
	for _, members := range groups {
		wg.Go(func() {
			first := machines[members[0]]
			ids := make([]string, len(members))
			for j, i := range members {
				ids[j] = machines[i].InstanceId
			}
			found, err := first.describeMany(ctx, ids)
			for _, i := range members {
				m := machines[i]
				inst := found[m.InstanceId]
				gone := inst == nil || instanceStateName(inst) == types.InstanceStateNameTerminated
				out[i] = m.instance().Answered(inst, gone, err).Status(dockerPort)
			}
		})
	}
	wg.Wait()
	return out, nil
}

// describeMany describes the instances ids with this driver's region,
// endpoint and credentials, following NextToken.
func (d *Driver) describeMany(ctx context.Context, ids []string) (map[string]*types.Instance, error) {
	a, err := d.api(ctx)
	if err != nil {
		return nil, err
	}
	found := map[string]*types.Instance{}
	for _, chunk := range instance.Chunks(ids, idsPerCall) {
		p := ec2.NewDescribeInstancesPaginator(a.ec2.DescribeInstances, &ec2.DescribeInstancesInput{
			Filters:    []types.Filter{filter("instance-id", chunk...)},
			MaxResults: ptr(int32(maxResults)),
		})
		list, err := allPages(ctx, p, false, func(out *ec2.DescribeInstancesOutput) (list []types.Instance) {
			for _, r := range out.Reservations {
				list = append(list, r.Instances...)
			}
			return list
		})
		if err != nil {
			return nil, err
		}
		for k := range list {
			found[deref(list[k].InstanceId)] = &list[k]
		}
	}
	return found, nil
}
