package amazonec2

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

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
	type account struct {
		region, endpoint, profile, key, secret, token string
		disableSSL                                    bool
		retries                                       int
	}
	return instance.Fleet[*Driver, account, types.Instance]{
		Driver: Name,
		Decode: func(raw []byte) (*Driver, error) {
			m := NewDriver("", "")
			m.logger = d.logger
			return m, json.Unmarshal(raw, m)
		},
		Account: func(m *Driver) (account, bool) {
			return account{m.Region, m.Endpoint, m.Profile, m.AccessKey, m.SecretKey, m.SessionToken, m.DisableSSL, m.RetryCount}, m.InstanceId != ""
		},
		ID: func(m *Driver) string { return m.InstanceId },
		// GetState words a machine without an instance without asking the cloud.
		Local:    func(m *Driver) capability.MachineStatus { return m.instance().Status(dockerPort) },
		Describe: (*Driver).describeMany,
		Status: func(m *Driver, inst *types.Instance, err error) capability.MachineStatus {
			gone := inst == nil || instanceStateName(inst) == types.InstanceStateNameTerminated
			return m.instance().Answered(inst, gone, err).Status(dockerPort)
		},
	}.Statuses(ctx, configs), nil
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
