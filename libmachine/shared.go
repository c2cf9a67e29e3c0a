package libmachine

import (
	"context"
	"fmt"

	"github.com/fleetdock/machine/libmachine/capability"
)

// PrepareShared makes the cloud resources that machines created with these
// driver options share (a security group, a network), so that their creates
// can then run at once and find them instead of racing to make one each.
// A driver without the capability shares nothing that needs making first:
// the answer is then no resources and no error.
func (c *Client) PrepareShared(ctx context.Context, driverName string, set map[string][]string) ([]capability.Resource, error) {
	d, err := c.DriverFor(ctx, driverName, set)
	if err != nil {
		return nil, err
	}
	sp, ok := capability.Get[capability.SharedPreparer](d)
	if !ok {
		return nil, nil
	}
	res, err := sp.PrepareShared(ctx)
	if err != nil {
		return nil, fmt.Errorf("preparing what %s machines with these options share: %w", driverName, err)
	}
	return res, nil
}
