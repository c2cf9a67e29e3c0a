package aliyunecs

import (
	"context"
	"encoding/json"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

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
	type account struct{ region, endpoint, key, secret string }
	return instance.Fleet[*Driver, account, ecs.Instance]{
		Driver: Name,
		Decode: func(raw []byte) (*Driver, error) {
			m := NewDriver("", "")
			m.logger = d.logger
			return m, json.Unmarshal(raw, m)
		},
		Account: func(m *Driver) (account, bool) {
			return account{m.Region, m.APIEndpoint, m.AccessKey, m.SecretKey}, m.InstanceId != ""
		},
		ID: func(m *Driver) string { return m.InstanceId },
		// GetState words a machine without an instance without asking the cloud.
		Local:    func(m *Driver) capability.MachineStatus { return m.instance().Status(defaultEnginePort) },
		Describe: (*Driver).describeMany,
		// ECS leaves out of its answer the instances that do not exist.
		Status: func(m *Driver, inst *ecs.Instance, err error) capability.MachineStatus {
			return m.instance().Answered(inst, inst == nil, err).Status(defaultEnginePort)
		},
	}.Statuses(ctx, configs), nil
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
