package amazonec2

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/fleetdock/machine/libmachine/capability"
)

// PrepareShared finds or makes the security groups that the machines of
// these options share (--amazonec2-security-group, by name in the VPC) and
// adds the rules they need, to those and to the groups given by ID unless
// --amazonec2-security-group-readonly, so that creates started at once
// afterwards find them and change nothing. The VPC and subnet are only
// looked up. A group made here carries the docker-machine-managed tag, so
// the rm of whichever machine goes last deletes it.
//
// Creates that race for a name need no preparing to end in one group: EC2
// refuses a second group of a name in a VPC (InvalidGroup.Duplicate), and
// the create that gets that answer uses the group that won.
func (d *Driver) PrepareShared(ctx context.Context) ([]capability.Resource, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*actionTimeout)
	defer cancel()
	a, err := d.api(ctx)
	if err != nil {
		return nil, err
	}
	if err := d.resolveNetwork(ctx, a); err != nil {
		return nil, err
	}
	if err := d.setupSecurityGroups(ctx, a); err != nil {
		err = fmt.Errorf("preparing the security groups of VPC %s: %w", d.VpcId, err)
		// No machine will own what this made: remove it unless a create
		// running at the same time already uses it.
		for _, id := range slices.Clone(d.CreatedSecurityGroupIds) {
			if rerr := d.removeSecurityGroup(capability.CleanupContext(ctx), a, id); rerr != nil {
				err = fmt.Errorf("%w; security group %s it made is left: delete it in the EC2 console (%w)", err, id, rerr)
			}
		}
		return nil, err
	}
	var out []capability.Resource
	for _, id := range d.SecurityGroupIds {
		out = append(out, capability.Resource{Kind: "security group", ID: id, Region: d.Region})
	}
	return out, nil
}

// duplicateGroup finds the group named name in the VPC after EC2 said it
// exists: it may take a moment to be listed (EC2 is eventually consistent).
func (d *Driver) duplicateGroup(ctx context.Context, a *api, name string) (types.SecurityGroup, error) {
	var g types.SecurityGroup
	err := waitFor(ctx, fmt.Sprintf("security group %q of VPC %s to be listed", name, d.VpcId), resourceTimeout, func(ctx context.Context) (bool, string, error) {
		found, err := d.groupsByName(ctx, a)
		if err != nil {
			if transient(err) {
				return false, errorCode(err), nil
			}
			return false, "", err
		}
		i := slices.IndexFunc(found, func(g types.SecurityGroup) bool { return deref(g.GroupName) == name })
		if i < 0 {
			return false, "not listed yet", nil
		}
		g = found[i]
		return true, "", nil
	})
	return g, err
}

// runInstanceInSharedGroups is runInstance, run once more in the groups
// set up again when one found by name is gone: the rollback of a create
// that failed before its instance ran removes a docker-machine group no
// instance uses yet, while creates running at the same time may be about
// to use it.
func (d *Driver) runInstanceInSharedGroups(ctx context.Context, a *api) error {
	err := d.runInstance(ctx, a)
	if err == nil || errorCode(err) != "InvalidGroup.NotFound" || len(d.SecurityGroupNames) == 0 {
		return err
	}
	d.log().Info("a security group was deleted meanwhile; setting up the groups again", "groups", d.SecurityGroupIds)
	if serr := d.setupSecurityGroups(ctx, a); serr != nil {
		return fmt.Errorf("%w; setting up the security groups again: %w", err, serr)
	}
	return d.runInstance(ctx, a)
}
