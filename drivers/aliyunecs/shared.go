package aliyunecs

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"

	"github.com/fleetdock/machine/drivers/internal/wait"
	"github.com/fleetdock/machine/libmachine/capability"
)

// PrepareShared finds or makes the security group that the machines of
// these options share, with the rules they need, so that creates started
// at once afterwards find it and make none. The VPC and VSwitch are only
// looked up: the driver never makes them. A group made here carries the
// docker-machine-id tag of this preparation, so the rm of whichever machine
// goes last deletes it.
func (d *Driver) PrepareShared(ctx context.Context) ([]capability.Resource, error) {
	a, err := d.api()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*actionTimeout)
	defer cancel()
	if err := d.checkRegion(ctx, a); err != nil {
		return nil, err
	}
	if err := d.resolveNetwork(ctx, a); err != nil {
		return nil, err
	}
	if err := d.setupSecurityGroup(ctx, a); err != nil {
		err = fmt.Errorf("preparing security group %q in VPC %s: %w", d.SecurityGroupName, d.VpcId, err)
		if d.SecurityGroupCreated {
			// No machine will own it: remove it unless a create running
			// at the same time already uses it.
			if rerr := d.removeSecurityGroup(capability.CleanupContext(ctx), a); rerr != nil {
				return nil, fmt.Errorf("%w; security group %s it made is left: delete it in the ECS console (%w)", err, d.SecurityGroupId, rerr)
			}
		}
		return nil, err
	}
	return []capability.Resource{{Kind: "security group", ID: d.SecurityGroupId, Region: d.Region}}, nil
}

// Alibaba Cloud allows several security groups of one name in a VPC, so
// creates that start at once for a name not yet taken each make one. They
// agree on a single one afterwards: the oldest by CreationTime, ties going
// to the lowest ID. The others are deleted by the creates that made them
// before anything uses them.
//
// CreationTime has a resolution (a second, or a minute in some answers),
// and a group made later within the winner's tick could still outrank it
// on its ID. So the choice is final only in a listing made after the
// winner's tick ended by the service's clock (its Date header): one sent
// after an answer dated past the tick, or one dated a second past it
// (the Date is stamped a moment after the listing is made). Any group made
// after such a listing has a later time than the winner.

// namedGroup is a security group of the name with its parsed time.
type namedGroup struct {
	ID      string
	Created time.Time
	Tick    time.Duration // resolution of Created
	Group   ecs.SecurityGroup
}

// findOrMakeSecurityGroup sets SecurityGroupId to the group named
// SecurityGroupName in the VPC that every create agrees on, making one
// when there is none; SecurityGroupCreated says this driver made it.
func (d *Driver) findOrMakeSecurityGroup(ctx context.Context, a *api) error {
	groups, _, err := a.groupsNamed(ctx, d.VpcId, d.SecurityGroupName)
	if err != nil {
		return fmt.Errorf("looking for security group %q in VPC %s: %w", d.SecurityGroupName, d.VpcId, err)
	}
	mine := ""
	if len(groups) == 0 {
		if mine, err = d.makeSecurityGroup(ctx, a); err != nil {
			return err
		}
		// From here on the group is this machine's to remove, until
		// another one wins.
		d.SecurityGroupId, d.SecurityGroupCreated = mine, true
	}
	winner, err := d.settleSecurityGroup(ctx, a, mine)
	if err != nil {
		return err
	}
	switch {
	case mine == "":
		d.log().Info("using existing security group", "group", winner, "name", d.SecurityGroupName)
	case winner == mine:
		d.log().Info("created security group", "group", mine, "name", d.SecurityGroupName)
	default:
		d.log().Info("another create made security group "+d.SecurityGroupName+" first; deleting ours and using theirs", "ours", mine, "group", winner)
		if err := d.removeSecurityGroup(ctx, a); err != nil {
			return fmt.Errorf("deleting security group %s, a duplicate of %s made by a create running at the same time: %w", mine, winner, err)
		}
	}
	d.SecurityGroupId, d.SecurityGroupCreated = winner, winner == mine
	return nil
}

// makeSecurityGroup creates the group with the ClientToken of this
// machine's create, so a retried call makes no second one.
func (d *Driver) makeSecurityGroup(ctx context.Context, a *api) (string, error) {
	req := ecs.CreateCreateSecurityGroupRequest()
	req.VpcId = d.VpcId
	req.SecurityGroupName = d.SecurityGroupName
	req.Description = "docker-machine hosts: SSH and Docker TLS"
	req.SecurityGroupType = "normal"
	req.ResourceGroupId = d.ResourceGroupId
	req.ClientToken = d.token("sg")
	var tags []ecs.CreateSecurityGroupTag
	mt := d.machineTags()
	for _, k := range sortedKeys(mt) {
		tags = append(tags, ecs.CreateSecurityGroupTag{Key: k, Value: mt[k]})
	}
	req.Tag = &tags
	resp := ecs.CreateCreateSecurityGroupResponse()
	if err := a.call(ctx, &a.ecs.Client, req, resp); err != nil {
		return "", fmt.Errorf("creating security group %q in VPC %s: %w", d.SecurityGroupName, d.VpcId, err)
	}
	if resp.SecurityGroupId == "" {
		return "", fmt.Errorf("CreateSecurityGroup answered without an ID for group %q in VPC %s", d.SecurityGroupName, d.VpcId)
	}
	return resp.SecurityGroupId, nil
}

// The pace of settling: the choice waits for the service clock to pass a
// one-second tick, so it is checked often, to decide soon after; it runs
// once per new group name, not once per create.
var (
	settleInitial = 200 * time.Millisecond
	settleMax     = 400 * time.Millisecond
)

// settleSecurityGroup lists the groups of the name until the oldest one is
// final (see above) and returns its ID. mine is the group this create just
// made ("" for none): it must be listed before anything is decided. A
// winner from an earlier tick than mine is final at once: every group not
// yet listed was made after mine, so in mine's tick or later.
func (d *Driver) settleSecurityGroup(ctx context.Context, a *api, mine string) (string, error) {
	var winner, pastTick string // pastTick: the winner of an answer dated past its tick
	what := fmt.Sprintf("the security groups named %q in VPC %s to settle on one", d.SecurityGroupName, d.VpcId)
	err := wait.For(ctx, a.logger(), what, resourceTimeout, settleInitial, settleMax, func(ctx context.Context) (bool, string, error) {
		groups, now, err := a.groupsNamed(ctx, d.VpcId, d.SecurityGroupName)
		if err != nil {
			return false, "", err
		}
		if len(groups) == 0 {
			if mine != "" {
				return false, "our new group " + mine + " is not listed yet", nil
			}
			return false, "", fmt.Errorf("security group %q in VPC %s was deleted while this create was choosing it; run the create again", d.SecurityGroupName, d.VpcId)
		}
		i := slices.IndexFunc(groups, func(g namedGroup) bool { return g.ID == mine })
		if mine != "" && i < 0 {
			return false, "our new group " + mine + " is not listed yet", nil
		}
		w := groups[0]
		winner = w.ID
		switch age := now.Sub(w.Created); {
		case mine != "" && w.ID != mine && w.Created.Before(groups[i].Created):
			return true, "", nil
		case pastTick == w.ID, age >= w.Tick+time.Second:
			return true, "", nil
		case age >= w.Tick:
			pastTick = w.ID
			return false, "confirming " + w.ID, nil
		}
		pastTick = ""
		return false, fmt.Sprintf("%d named so, the oldest %s made %s", len(groups), w.ID, w.Created.Format(time.RFC3339)), nil
	})
	return winner, err
}

// groupsNamed lists the groups named name in the VPC, oldest first (ties
// by ID), and the service's clock at the answer (the local one when the
// answer has no Date header).
func (a *api) groupsNamed(ctx context.Context, vpcID, name string) ([]namedGroup, time.Time, error) {
	var out []namedGroup
	var now time.Time
	for page := 1; ; page++ {
		req := ecs.CreateDescribeSecurityGroupsRequest()
		req.VpcId = vpcID
		req.SecurityGroupName = name
		req.PageNumber = requests.NewInteger(page)
		req.PageSize = requests.NewInteger(50)
		resp := ecs.CreateDescribeSecurityGroupsResponse()
		if err := a.call(ctx, &a.ecs.Client, req, resp); err != nil {
			return nil, time.Time{}, err
		}
		if page == 1 {
			now = answeredAt(resp.GetHttpHeaders())
		}
		for _, g := range resp.SecurityGroups.SecurityGroup {
			if g.SecurityGroupName != name || (vpcID != "" && g.VpcId != vpcID) {
				continue
			}
			created, tick := parseCreationTime(g.CreationTime)
			out = append(out, namedGroup{ID: g.SecurityGroupId, Created: created, Tick: tick, Group: g})
		}
		if len(resp.SecurityGroups.SecurityGroup) < 50 || page*50 >= resp.TotalCount {
			break
		}
	}
	slices.SortFunc(out, func(x, y namedGroup) int {
		if c := x.Created.Compare(y.Created); c != 0 {
			return c
		}
		return cmp.Compare(x.ID, y.ID)
	})
	return out, now, nil
}

// answeredAt is the Date header of an answer, else the local clock.
func answeredAt(h map[string][]string) time.Time {
	for k, v := range h {
		if http.CanonicalHeaderKey(k) == "Date" && len(v) > 0 {
			if t, err := http.ParseTime(v[0]); err == nil {
				return t
			}
		}
	}
	return time.Now()
}

// parseCreationTime reads the API's times, to the second or to the minute.
// An unreadable one counts as long ago: it cannot be a group just made.
func parseCreationTime(s string) (time.Time, time.Duration) {
	if t, err := time.Parse("2006-01-02T15:04:05Z07:00", s); err == nil {
		return t, time.Second
	}
	if t, err := time.Parse("2006-01-02T15:04Z07:00", s); err == nil {
		return t, time.Minute
	}
	return time.Time{}, time.Second
}

// runInstanceInSharedGroup is runInstance, run once more in a group chosen
// again when the one chosen is gone: the rollback of a create that failed
// before its instance ran removes a docker-machine group no instance uses
// yet, while creates running at the same time may be about to use it.
func (d *Driver) runInstanceInSharedGroup(ctx context.Context, a *api) error {
	err := d.runInstance(ctx, a)
	if err == nil || errorCode(err) != "InvalidSecurityGroupId.NotFound" {
		return err
	}
	d.log().Info("security group was deleted meanwhile; choosing the group again", "group", d.SecurityGroupId, "name", d.SecurityGroupName)
	d.SecurityGroupId, d.SecurityGroupCreated = "", false
	if serr := d.setupSecurityGroup(ctx, a); serr != nil {
		return fmt.Errorf("%w; setting up security group %q again: %w", err, d.SecurityGroupName, serr)
	}
	return d.runInstance(ctx, a)
}
