package amazonec2

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/fleetdock/machine/drivers/internal/instance"
	"github.com/fleetdock/machine/drivers/internal/rollback"
	"github.com/fleetdock/machine/libmachine/capability"
)

// RemoveContext is Remove bounded by ctx.
func (d *Driver) RemoveContext(ctx context.Context) error {
	return rollback.Remove(ctx, removeTimeout, d.MachineName, "EC2", d.api, d.teardown)
}

// teardown removes in the reverse order of creation, carries on past
// failures so one stuck resource does not strand the others, and clears
// each ID once its resource is gone.
func (d *Driver) teardown(ctx context.Context, a *api) error {
	ce := &rollback.Leftovers{Machine: d.MachineName}

	instances, err := d.instancesToRemove(ctx, a)
	if err != nil {
		ce.Fail("instances tagged "+tagMachineID+"="+d.Id, err)
	}
	instanceLeft := err != nil
	if len(instances) > 0 {
		_, err := a.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: instances})
		switch {
		case err == nil:
			d.log().Info("instance terminated", "instances", strings.Join(instances, ","))
		case isNotFound(err) && len(instances) == 1:
			d.log().Info("instance does not exist any more", "instance", instances[0])
		default:
			ce.Fail("instance "+strings.Join(instances, ", "), err)
			instanceLeft = true
		}
	}

	if err := d.cancelSpotRequests(ctx, a, instances); err != nil {
		ce.Fail("spot instance request of the machine", err)
	} else {
		d.SpotInstanceRequestId = ""
	}

	if err := d.removeKeyPair(ctx, a); err != nil {
		ce.Fail("key pair "+d.KeyName, err)
	}

	// A security group can go only once no instance is in it any more.
	groups, err := d.groupsToRemove(ctx, a)
	if err != nil {
		ce.Fail("security groups of the machine", err)
	}
	if len(groups) > 0 && instanceLeft {
		for _, g := range groups {
			ce.Leave("security group " + g)
		}
	} else if len(groups) > 0 {
		if err := d.waitTerminated(ctx, a, instances); err != nil {
			ce.Fail("security groups "+strings.Join(groups, ", "), err)
		} else {
			for _, g := range groups {
				if err := d.removeSecurityGroup(ctx, a, g); err != nil {
					ce.Fail("security group "+g, err)
				}
			}
		}
	}

	if !instanceLeft {
		d.InstanceId = ""
		d.PublicIPAddress, d.PrivateIPAddress, d.IPv6Address, d.IPAddress = "", "", "", ""
	}
	return ce.Err()
}

// instancesToRemove is the stored instance, or those carrying the machine's
// tag when a create stopped before the ID was stored.
func (d *Driver) instancesToRemove(ctx context.Context, a *api) ([]string, error) {
	return instance.ToRemove(d.log(), d.InstanceId, d.Id,
		func() ([]types.Instance, error) {
			return a.instances(ctx, filter("tag:"+tagMachineID, d.Id), filter("instance-state-name", liveStates...))
		},
		func(inst *types.Instance) string { return deref(inst.InstanceId) })
}

// cancelSpotRequests cancels the machine's spot request: the stored one,
// or those found by tag or instance when none is stored.
func (d *Driver) cancelSpotRequests(ctx context.Context, a *api, instances []string) error {
	ids := []string{}
	if d.SpotInstanceRequestId != "" {
		ids = append(ids, d.SpotInstanceRequestId)
	} else if d.RequestSpotInstance && d.Id != "" {
		filters := [][]types.Filter{{filter("tag:"+tagMachineID, d.Id)}}
		if len(instances) > 0 {
			filters = append(filters, []types.Filter{filter("instance-id", instances...)})
		}
		for _, f := range filters {
			out, err := a.ec2.DescribeSpotInstanceRequests(ctx, &ec2.DescribeSpotInstanceRequestsInput{Filters: f})
			if err != nil {
				return err
			}
			for _, r := range out.SpotInstanceRequests {
				id := deref(r.SpotInstanceRequestId)
				if r.State != types.SpotInstanceStateCancelled && r.State != types.SpotInstanceStateClosed && !slices.Contains(ids, id) {
					ids = append(ids, id)
				}
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	_, err := a.ec2.CancelSpotInstanceRequests(ctx, &ec2.CancelSpotInstanceRequestsInput{SpotInstanceRequestIds: ids})
	if err != nil && !(isNotFound(err) && len(ids) == 1) {
		return err
	}
	d.log().Info("spot instance request cancelled", "requests", strings.Join(ids, ","))
	return nil
}

// removeKeyPair deletes the key pair this driver imported: the stored
// name, or those carrying the machine's tag when no name is stored.
func (d *Driver) removeKeyPair(ctx context.Context, a *api) error {
	if d.ExistingKey {
		return nil
	}
	names := []string{}
	if d.KeyName != "" {
		names = append(names, d.KeyName)
	} else if d.Id != "" {
		list, err := a.keyPairsByTag(ctx, d.Id)
		if err != nil {
			return err
		}
		for _, kp := range list {
			names = append(names, deref(kp.KeyName))
		}
	}
	for _, name := range names {
		if _, err := a.ec2.DeleteKeyPair(ctx, &ec2.DeleteKeyPairInput{KeyName: ptr(name)}); err != nil && !isNotFound(err) {
			return err
		}
		d.log().Info("key pair deleted", "name", name)
	}
	d.KeyName = ""
	return nil
}

// groupsToRemove are the security groups of the machine that
// docker-machine created: for this machine, or for another one that has
// since gone (the docker-machine-managed tag).
func (d *Driver) groupsToRemove(ctx context.Context, a *api) ([]string, error) {
	ids := slices.Clone(d.CreatedSecurityGroupIds)
	var filters []types.Filter
	switch mine := d.securityGroupIds(); {
	case len(mine) > 0:
		filters = []types.Filter{filter("group-id", mine...), filter("tag:"+tagManaged, "true")}
	case d.Id != "":
		filters = []types.Filter{filter("tag:"+tagMachineID, d.Id), filter("tag:"+tagManaged, "true")}
	}
	if filters != nil {
		found, err := a.securityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: filters})
		if err != nil {
			return nil, err
		}
		for _, g := range found {
			if id := deref(g.GroupId); !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	return ids, nil
}

// waitTerminated waits until none of the instances is in a live state, so
// that their security groups are free.
func (d *Driver) waitTerminated(ctx context.Context, a *api, instances []string) error {
	if len(instances) == 0 {
		return nil
	}
	return waitFor(ctx, "instances "+strings.Join(instances, ", ")+" to terminate", instanceTimeout, func(ctx context.Context) (bool, string, error) {
		list, err := a.instances(ctx, filter("instance-id", instances...), filter("instance-state-name", liveStates...))
		if err != nil {
			if transient(err) {
				return false, errorCode(err), nil
			}
			return false, "", err
		}
		if len(list) == 0 {
			return true, "", nil
		}
		return false, fmt.Sprintf("%d still %s", len(list), instanceStateName(&list[0])), nil
	})
}

// removeSecurityGroup deletes a group docker-machine created, unless other
// instances still use it: then the last machine's rm deletes it.
func (d *Driver) removeSecurityGroup(ctx context.Context, a *api, id string) error {
	forget := func() {
		d.CreatedSecurityGroupIds = slices.DeleteFunc(d.CreatedSecurityGroupIds, func(s string) bool { return s == id })
	}
	users, err := a.instances(ctx, filter("instance.group-id", id), filter("instance-state-name", liveStates...))
	if err != nil {
		return err
	}
	if len(users) > 0 {
		d.log().Info("security group still used by other instances; keeping it", "group", id, "instances", len(users))
		forget()
		return nil
	}
	err = waitFor(ctx, fmt.Sprintf("security group %s to be free", id), resourceTimeout, func(ctx context.Context) (bool, string, error) {
		_, err := a.ec2.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: ptr(id)})
		switch {
		case err == nil, isNotFound(err):
			return true, "", nil
		case errorCode(err) == "DependencyViolation":
			// The interfaces of a terminated instance take a moment to go.
			return false, "in use", nil
		case transient(err):
			return false, errorCode(err), nil
		}
		return false, "", err
	})
	if err != nil {
		return err
	}
	d.log().Info("security group deleted", "group", id)
	forget()
	d.SecurityGroupIds = slices.DeleteFunc(d.SecurityGroupIds, func(s string) bool { return s == id })
	return nil
}

// Resources lists what the stored configuration says this machine owns,
// in the order Remove deletes it: what `rm -f` names when it cannot.
func (d *Driver) Resources() []capability.Resource {
	var out []capability.Resource
	add := func(kind, id string) {
		if id != "" {
			out = append(out, capability.Resource{Kind: kind, ID: id, Region: d.Region})
		}
	}
	add("spot instance request", d.SpotInstanceRequestId)
	add("instance", d.InstanceId)
	if !d.ExistingKey {
		add("key pair", d.KeyName)
	}
	for _, id := range d.CreatedSecurityGroupIds {
		add("security group", id)
	}
	if d.InstanceId == "" && d.Id != "" {
		add("resources tagged "+tagMachineID, d.Id)
	}
	return out
}
