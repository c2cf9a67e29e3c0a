package aliyunecs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/fleetdock/machine/drivers/internal/instance"
	"github.com/fleetdock/machine/drivers/internal/rollback"
	"github.com/fleetdock/machine/libmachine/capability"
)

// RemoveContext is Remove, stopped when ctx ends.
func (d *Driver) RemoveContext(ctx context.Context) error {
	return rollback.Remove(ctx, removeTimeout, d.MachineName, "Alibaba Cloud", func(context.Context) (*api, error) { return d.api() }, d.teardown)
}

// Resources lists what the stored configuration says this machine owns,
// in the order Remove deletes it: what `rm -f` names when it cannot.
func (d *Driver) Resources() []capability.Resource {
	var out []capability.Resource
	add := func(ok bool, kind, id string) {
		if ok && id != "" {
			out = append(out, capability.Resource{Kind: kind, ID: id, Region: d.Region})
		}
	}
	add(d.SLBBackendAdded, "load balancer backend (of "+d.SLBID+")", d.InstanceId)
	add(d.RouteEntryCreated, "route entry (in "+d.RouteTableId+")", d.RouteCIDR)
	add(true, "EIP", d.EIPAllocationId)
	add(true, "instance", d.InstanceId)
	add(d.KeyPairCreated, "key pair", d.KeyPairName)
	add(d.SecurityGroupCreated, "security group", d.SecurityGroupId)
	if d.InstanceId == "" && d.MachineID != "" {
		out = append(out, capability.Resource{Kind: "resources tagged " + tagMachineID, ID: d.MachineID, Region: d.Region})
	}
	return out
}

// teardown removes in the reverse order of creation, carries on past
// failures so one stuck resource does not strand the others, and clears
// each ID once its resource is gone.
func (d *Driver) teardown(ctx context.Context, a *api) error {
	ce := &rollback.Leftovers{Machine: d.MachineName}

	instances, err := d.instancesToRemove(ctx, a)
	if err != nil {
		ce.Fail("instances tagged "+tagMachineID+"="+d.MachineID, err)
	}

	if d.SLBID != "" {
		for _, id := range instances {
			if err := a.removeBackend(ctx, d.SLBID, id); err != nil {
				ce.Fail(fmt.Sprintf("backend server %s of load balancer %s", id, d.SLBID), err)
			}
		}
		if len(ce.Left) == 0 {
			d.SLBBackendAdded = false
		}
	}

	if d.RouteCIDR != "" && len(instances) > 0 {
		table := d.RouteTableId
		if table == "" && d.VpcId != "" {
			table, err = a.routeTableID(ctx, d.VpcId)
			if err != nil {
				ce.Fail("route entry "+d.RouteCIDR, err)
			}
		}
		if table != "" {
			for _, id := range instances {
				if err := a.deleteRouteEntry(ctx, table, d.RouteCIDR, id); err != nil {
					ce.Fail(fmt.Sprintf("route entry %s to %s in %s", d.RouteCIDR, id, table), err)
				}
			}
		}
	}

	if d.UseEIP || d.EIPAllocationId != "" {
		ids := []string{}
		if d.EIPAllocationId != "" {
			ids = append(ids, d.EIPAllocationId)
		}
		// A stored ID is the EIP: a retried AllocateEipAddress reuses its
		// ClientToken, so there is never a second one. Without it, look
		// by instance and by tag.
		if len(ids) == 0 {
			targets := instances
			if len(targets) == 0 {
				targets = []string{""}
			}
			for _, inst := range targets {
				found, err := a.eipsOf(ctx, inst, d.MachineID)
				if err != nil {
					ce.Fail("EIPs of the machine", err)
					break
				}
				for _, e := range found {
					if !slices.Contains(ids, e.AllocationId) {
						ids = append(ids, e.AllocationId)
					}
				}
			}
		}
		eipLeft := false
		for _, id := range ids {
			if err := a.releaseEIP(ctx, id); err != nil {
				ce.Fail("EIP "+id, err)
				eipLeft = true
			}
		}
		if !eipLeft {
			d.EIPAllocationId, d.EIPAddress = "", ""
		}
	}

	instanceLeft := false
	for _, id := range instances {
		if err := a.deleteInstance(ctx, id); err != nil {
			ce.Fail("instance "+id, err)
			instanceLeft = true
			continue
		}
		d.log().Info("instance deleted", "instance", id)
	}
	if !instanceLeft {
		d.InstanceId = ""
		d.PublicIPAddress, d.PrivateIPAddress, d.IPAddress = "", "", ""
	}

	// A key pair or group still bound to a live instance cannot go yet.
	if instanceLeft {
		if d.KeyPairCreated {
			ce.Leave("key pair " + d.KeyPairName)
		}
		if d.SecurityGroupCreated {
			ce.Leave("security group " + d.SecurityGroupId)
		}
		return ce
	}

	if err := d.removeKeyPair(ctx, a); err != nil {
		ce.Fail("key pair "+d.KeyPairName, err)
	}
	if err := d.removeSecurityGroup(ctx, a); err != nil {
		ce.Fail("security group "+d.SecurityGroupId, err)
	}

	return ce.Err()
}

// instancesToRemove is the stored instance, or the ones carrying the
// machine's tag when a create stopped before the ID was stored.
func (d *Driver) instancesToRemove(ctx context.Context, a *api) ([]string, error) {
	return instance.ToRemove(d.log(), d.InstanceId, d.MachineID,
		func() ([]ecs.Instance, error) { return a.instancesByTag(ctx, tagMachineID, d.MachineID) },
		func(inst *ecs.Instance) string { return inst.InstanceId })
}

func (d *Driver) removeKeyPair(ctx context.Context, a *api) error {
	if d.ExistingKeyPair || d.KeyPairName == "" {
		return nil
	}
	if !d.KeyPairCreated {
		// Ours only if it carries our tag: the name alone may belong to
		// someone else.
		if d.MachineID == "" {
			return nil
		}
		kp, err := a.keyPair(ctx, d.KeyPairName)
		if err != nil {
			return err
		}
		if kp == nil || !hasTag(ecsTags(kp.Tags.Tag), tagMachineID, d.MachineID) {
			return nil
		}
	}
	if err := a.deleteKeyPair(ctx, d.KeyPairName); err != nil {
		return err
	}
	d.KeyPairCreated = false
	return nil
}

// removeSecurityGroup deletes the group if docker-machine created it (for
// this machine or another) and no instance uses it any more. Groups made
// by hand are never deleted.
func (d *Driver) removeSecurityGroup(ctx context.Context, a *api) error {
	id := d.SecurityGroupId
	managed := d.SecurityGroupCreated
	if id == "" {
		if d.MachineID == "" || d.VpcId == "" || d.SecurityGroupName == "" {
			return nil
		}
		g, err := a.securityGroupByName(ctx, d.VpcId, d.SecurityGroupName)
		if err != nil || g == nil {
			return err
		}
		if !hasTag(ecsTags(g.Tags.Tag), tagMachineID, d.MachineID) {
			return nil
		}
		id, managed = g.SecurityGroupId, true
	}
	if !managed {
		g, err := a.securityGroup(ctx, id)
		if err != nil {
			return err
		}
		if g == nil {
			d.SecurityGroupId = ""
			return nil
		}
		if _, ok := ecsTags(g.Tags.Tag)[tagMachineID]; !ok {
			return nil
		}
	}
	err := a.waitFor(ctx, fmt.Sprintf("security group %s to be free", id), resourceTimeout, func(ctx context.Context) (bool, string, error) {
		err := a.deleteSecurityGroup(ctx, id)
		if err == nil {
			return true, "", nil
		}
		if !strings.HasPrefix(errorCode(err), "DependencyViolation") {
			return false, "", err
		}
		// In use: by other machines (keep it) or by our instance that
		// is still going away (wait).
		n, lerr := a.instancesInGroup(ctx, id)
		if lerr != nil {
			return false, "", lerr
		}
		if n > 0 {
			d.log().Info("security group still used by other instances; keeping it", "group", id, "instances", n)
			return true, "", errSecurityGroupInUse
		}
		return false, "in use", nil
	})
	switch {
	case errors.Is(err, errSecurityGroupInUse):
		return nil
	case err != nil:
		return err
	}
	d.log().Info("security group deleted", "group", id)
	d.SecurityGroupId, d.SecurityGroupCreated = "", false
	return nil
}

var errSecurityGroupInUse = errors.New("security group in use")

// instancesInGroup counts the instances in the security group.
func (a *api) instancesInGroup(ctx context.Context, groupID string) (int, error) {
	req := ecs.CreateDescribeInstancesRequest()
	req.SecurityGroupId = groupID
	req.PageSize = requests.NewInteger(10)
	resp := ecs.CreateDescribeInstancesResponse()
	if err := a.call(ctx, &a.ecs.Client, req, resp); err != nil {
		return 0, err
	}
	n := 0
	for _, inst := range resp.Instances.Instance {
		// Trust the filter only as far as the answer confirms it.
		if ids := inst.SecurityGroupIds.SecurityGroupId; len(ids) == 0 || slices.Contains(ids, groupID) {
			n++
		}
	}
	return n, nil
}
