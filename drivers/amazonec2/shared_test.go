package amazonec2

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	rpcdriver "github.com/docker/machine/libmachine/drivers/rpc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/cloudsim"
	"github.com/fleetdock/machine/libmachine/capability"
)

// newPreparer configures a driver the way libmachine's DriverFor does: from
// a create's options, bound to no machine.
func newPreparer(t *testing.T, s *sim, extra map[string]any) capability.SharedPreparer {
	t.Helper()
	d := NewDriver("", "")
	v := flagValues(d, s)
	for k, x := range extra {
		v[k] = x
	}
	require.NoError(t, d.SetConfigFromFlags(&rpcdriver.RPCFlags{Values: v}))
	p, ok := capability.Get[capability.SharedPreparer](d)
	require.True(t, ok, "amazonec2 offers SharedPreparer")
	return p
}

func (s *sim) ec2Resources() cloudsim.EC2Resources {
	s.t.Helper()
	var r cloudsim.Resources
	s.admin(http.MethodGet, "/resources", nil, &r)
	return r.EC2
}

func groupsNamed(r cloudsim.EC2Resources, name string) []cloudsim.EC2GroupResource {
	var out []cloudsim.EC2GroupResource
	for _, g := range r.SecurityGroups {
		if g.Name == name {
			out = append(out, g)
		}
	}
	return out
}

// The machines' ingress rules, as the simulator lists them.
var machineRules = []string{"ingress tcp 22-22 0.0.0.0/0", "ingress tcp 2376-2376 0.0.0.0/0"}

func ingress(g cloudsim.EC2GroupResource) []string {
	var out []string
	for _, r := range g.Rules {
		if len(r) > 8 && r[:8] == "ingress " {
			out = append(out, r)
		}
	}
	return out
}

func TestPrepareSharedMakesTheGroupOnce(t *testing.T) {
	s := startSim(t, fastFaults())
	before := s.snapshot()
	opts := map[string]any{"amazonec2-security-group": []string{"fleet-web"}}

	seq := s.lastSeq()
	rs, err := newPreparer(t, s, opts).PrepareShared(t.Context())
	require.NoError(t, err)
	require.Len(t, rs, 1)
	assert.Equal(t, "security group", rs[0].Kind)
	assert.Equal(t, "us-east-1", rs[0].Region)
	assert.Equal(t, 1, countActions(s.callsSince(seq))["CreateSecurityGroup"])
	groups := groupsNamed(s.ec2Resources(), "fleet-web")
	require.Len(t, groups, 1)
	assert.Equal(t, rs[0].ID, groups[0].ID)
	assert.ElementsMatch(t, machineRules, ingress(groups[0]), "the rules a machine needs are there before any create")

	seq = s.lastSeq()
	again, err := newPreparer(t, s, opts).PrepareShared(t.Context())
	require.NoError(t, err)
	assert.Equal(t, rs, again, "preparing again finds the same group")
	calls := countActions(s.callsSince(seq))
	assert.Zero(t, calls["CreateSecurityGroup"])
	assert.Zero(t, calls["AuthorizeSecurityGroupIngress"])

	seq = s.lastSeq()
	d := newDriver(t, s, "web-1", opts)
	require.NoError(t, d.PreCreateCheck())
	require.NoError(t, d.Create())
	calls = countActions(s.callsSince(seq))
	assert.Zero(t, calls["CreateSecurityGroup"], "the create found the prepared group")
	assert.Zero(t, calls["AuthorizeSecurityGroupIngress"], "with every rule it needs")
	assert.Equal(t, []string{rs[0].ID}, d.SecurityGroupIds)
	assert.Empty(t, d.CreatedSecurityGroupIds)

	require.NoError(t, d.Remove())
	s.requireSameAs(before, "the last machine's rm deletes the prepared group")
}

// Creates started at once for a group name nobody has made yet all try to
// make it (CreateSecurityGroup is slowed down so that all of them look
// before any has made one): EC2 makes one, the others get
// InvalidGroup.Duplicate and use it.
func TestConcurrentCreatesEndInOneGroup(t *testing.T) {
	const n = 5
	f := fastFaults()
	f.ActionLatency = map[string]cloudsim.Duration{"CreateSecurityGroup": cloudsim.Duration(500 * time.Millisecond)}
	s := startSim(t, f)
	before := s.snapshot()
	opts := map[string]any{"amazonec2-security-group": []string{"fleet-race"}}

	ds := make([]*Driver, n)
	for i := range ds {
		ds[i] = newDriver(t, s, "race-"+string(rune('a'+i)), opts)
	}
	seq := s.lastSeq()
	errs := make([]error, n)
	var start, done sync.WaitGroup
	start.Add(1)
	for i, d := range ds {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			errs[i] = d.CreateContext(context.Background())
		}()
	}
	start.Done()
	done.Wait()
	for i, err := range errs {
		require.NoError(t, err, "create %d", i)
	}

	calls := s.callsSince(seq)
	creates, dups := 0, 0
	for _, c := range calls {
		if c.Action == "CreateSecurityGroup" {
			creates++
			if c.Code == "InvalidGroup.Duplicate" {
				dups++
			}
		}
	}
	assert.Equal(t, n, creates, "every create tried to make the group (the race happened)")
	assert.Equal(t, n-1, dups, "EC2 made one and refused the others")

	r := s.ec2Resources()
	groups := groupsNamed(r, "fleet-race")
	require.Len(t, groups, 1)
	assert.ElementsMatch(t, machineRules, ingress(groups[0]))
	live := 0
	for _, inst := range r.Instances {
		if inst.State == "running" {
			live++
			assert.Equal(t, []string{groups[0].ID}, inst.GroupIDs, "instance %s", inst.ID)
		}
	}
	assert.Equal(t, n, live)
	made := 0
	for _, d := range ds {
		assert.Equal(t, []string{groups[0].ID}, d.SecurityGroupIds)
		made += len(d.CreatedSecurityGroupIds)
	}
	assert.Equal(t, 1, made, "one machine owns the group it made")

	var rm sync.WaitGroup
	for i, d := range ds {
		rm.Add(1)
		go func() {
			defer rm.Done()
			errs[i] = d.Remove()
		}()
	}
	rm.Wait()
	for i, err := range errs {
		require.NoError(t, err, "rm %d", i)
	}
	s.requireSameAs(before, "after removing every machine of the race")
}

// A group deleted while a create is about to use it (by the rollback of a
// create that failed at the same time, say) is set up again, and the
// create goes on.
func TestCreateSetsUpAgainWhenTheGroupIsDeletedMeanwhile(t *testing.T) {
	f := fastFaults()
	f.ActionLatency = map[string]cloudsim.Duration{"RunInstances": cloudsim.Duration(400 * time.Millisecond)}
	s := startSim(t, f)
	before := s.snapshot()
	opts := map[string]any{"amazonec2-security-group": []string{"fleet-gone"}}
	rs, err := newPreparer(t, s, opts).PrepareShared(t.Context())
	require.NoError(t, err)
	require.Len(t, rs, 1)

	d := newDriver(t, s, "gone-1", opts)
	require.NoError(t, d.PreCreateCheck())
	seq := s.lastSeq()
	done := make(chan error, 1)
	go func() { done <- d.Create() }()
	// The create looked the group up: its RunInstances is on the way.
	require.Eventually(t, func() bool {
		return countActions(s.callsSince(seq))["DescribeSecurityGroups"] > 0
	}, 10*time.Second, 5*time.Millisecond)
	a, err := d.api(t.Context())
	require.NoError(t, err)
	_, err = a.ec2.DeleteSecurityGroup(t.Context(), &ec2.DeleteSecurityGroupInput{GroupId: ptr(rs[0].ID)})
	require.NoError(t, err)
	require.NoError(t, <-done)

	notFound := 0
	for _, c := range s.callsSince(seq) {
		if c.Action == "RunInstances" && c.Code == "InvalidGroup.NotFound" {
			notFound++
		}
	}
	assert.Equal(t, 1, notFound, "the first RunInstances found the group gone")
	groups := groupsNamed(s.ec2Resources(), "fleet-gone")
	require.Len(t, groups, 1)
	assert.NotEqual(t, rs[0].ID, groups[0].ID)
	assert.Equal(t, []string{groups[0].ID}, d.SecurityGroupIds)
	assert.Equal(t, []string{groups[0].ID}, d.CreatedSecurityGroupIds, "the create made the group again")
	require.NoError(t, d.Remove())
	s.requireSameAs(before, "after rm")
}

// A preparation that fails after making the group removes it: no machine
// would ever own it.
func TestFailedPrepareSharedLeavesNothing(t *testing.T) {
	f := fastFaults()
	f.Failures = []cloudsim.Failure{{Action: "AuthorizeSecurityGroupIngress", Code: "UnauthorizedOperation", Status: http.StatusForbidden,
		Message: "You are not authorized to perform this operation."}}
	s := startSim(t, f)
	before := s.snapshot()
	_, err := newPreparer(t, s, map[string]any{"amazonec2-security-group": []string{"fleet-denied"}}).PrepareShared(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "preparing the security groups of VPC")
	assert.Contains(t, err.Error(), "UnauthorizedOperation")
	s.requireSameAs(before, "after the failed preparation")
}
