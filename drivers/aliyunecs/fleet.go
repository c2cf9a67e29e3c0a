package aliyunecs

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/docker/machine/libmachine/state"

	"github.com/fleetdock/machine/drivers/internal/instance"
	"github.com/fleetdock/machine/libmachine/capability"
)

var _ capability.FleetReporter = (*Driver)(nil)

// maxDescribeIDs is the most instance IDs one DescribeInstances takes.
const maxDescribeIDs = 100

// Statuses tells the state of many machines of this driver with one
// DescribeInstances per region (and endpoint and stored keys) and per 100
// instances: each configuration is decoded into a driver of its own, and
// its status is told as its GetState and GetURL tell it.
func (d *Driver) Statuses(ctx context.Context, configs [][]byte) ([]capability.MachineStatus, error) {
	out := make([]capability.MachineStatus, len(configs))
	type account struct{ region, endpoint, key, secret string }
	groups := map[account][]int{}
	machines := make([]*Driver, len(configs))
	for i, raw := range configs {
		m := NewDriver("", "")
		if err := json.Unmarshal(raw, m); err != nil {
			out[i] = capability.MachineStatus{State: state.Error, Err: fmt.Sprintf("reading the aliyunecs driver configuration: %v; the machine's config.json may be damaged", err)}
			continue
		}
		m.logger = d.logger
		machines[i] = m
		if m.InstanceId == "" {
			// GetState words this without asking the cloud.
			out[i] = m.instance().Status(defaultEnginePort)
			continue
		}
		a := account{m.Region, m.APIEndpoint, m.AccessKey, m.SecretKey}
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
				out[i] = m.instance().Answered(inst, inst == nil, err).Status(defaultEnginePort)
			}
		})
	}
	wg.Wait()
	return out, nil
}

// describeMany describes the instances ids (ECS omits the ones that do not
// exist) with this driver's region, endpoint and keys, 100 IDs a call.
func (d *Driver) describeMany(ctx context.Context, ids []string) (map[string]*ecs.Instance, error) {
	a, err := d.api()
	if err != nil {
		return nil, err
	}
	found := map[string]*ecs.Instance{}
	for _, chunk := range instance.Chunks(ids, maxDescribeIDs) {
		list, _ := json.Marshal(chunk)
		for page := 1; ; page++ {
			req := ecs.CreateDescribeInstancesRequest()
			req.InstanceIds = string(list)
			req.PageSize = requests.NewInteger(pageSize)
			req.PageNumber = requests.NewInteger(page)
			resp := ecs.CreateDescribeInstancesResponse()
			if err := a.call(ctx, &a.ecs.Client, req, resp); err != nil {
				return nil, err
			}
			for k := range resp.Instances.Instance {
				inst := &resp.Instances.Instance[k]
				found[inst.InstanceId] = inst
			}
			if len(resp.Instances.Instance) < pageSize || page*pageSize >= resp.TotalCount {
				break
			}
		}
	}
	return found, nil
}
