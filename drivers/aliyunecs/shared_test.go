package aliyunecs

import (
	"context"
	"sync"
	"testing"
	"time"

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
	require.True(t, ok, "aliyunecs offers SharedPreparer")
	return p
}

func groupsNamed(r cloudsim.Resources, name string) []cloudsim.SecurityGroupRes {
	var out []cloudsim.SecurityGroupRes
	for _, g := range r.SecurityGroups {
		if g.Name == name {
			out = append(out, g)
		}
	}
	return out
}

func ingress(g cloudsim.SecurityGroupRes) []string {
	var out []string
	for _, rule := range g.Rules {
		if rule.Direction == "ingress" {
			out = append(out, rule.IpProtocol+" "+rule.PortRange+" "+rule.Source)
		}
	}
	return out
}

func TestPrepareSharedMakesTheGroupOnce(t *testing.T) {
	s := startSim(t, fastFaults())
	before := s.snapshot()
	opts := map[string]any{"aliyunecs-security-group": "fleet-web"}

	seq := s.lastSeq()
	rs, err := newPreparer(t, s, opts).PrepareShared(t.Context())
	require.NoError(t, err)
	require.Len(t, rs, 1)
	assert.Equal(t, "security group", rs[0].Kind)
	assert.Equal(t, "cn-hangzhou", rs[0].Region)
	assert.Equal(t, 1, countActions(s.callsSince(seq))["CreateSecurityGroup"])
	groups := groupsNamed(s.resources(), "fleet-web")
	require.Len(t, groups, 1)
	assert.Equal(t, rs[0].ID, groups[0].ID)
	assert.ElementsMatch(t, []string{"tcp 22/22 0.0.0.0/0", "tcp 2376/2376 0.0.0.0/0"}, ingress(groups[0]), "the rules a machine needs are there before any create")

	seq = s.lastSeq()
	again, err := newPreparer(t, s, opts).PrepareShared(t.Context())
	require.NoError(t, err)
	assert.Equal(t, rs, again, "preparing again finds the same group")
	calls := countActions(s.callsSince(seq))
	assert.Zero(t, calls["CreateSecurityGroup"])
	assert.Zero(t, calls["AuthorizeSecurityGroup"])

	seq = s.lastSeq()
	d := newDriver(t, s, "web-1", opts)
	require.NoError(t, d.PreCreateCheck())
	require.NoError(t, d.Create())
	calls = countActions(s.callsSince(seq))
	assert.Zero(t, calls["CreateSecurityGroup"], "the create found the prepared group")
	assert.Zero(t, calls["AuthorizeSecurityGroup"], "with every rule it needs")
	assert.Equal(t, rs[0].ID, d.SecurityGroupId)
	assert.False(t, d.SecurityGroupCreated)
	inst := s.resources().Instances
	require.Len(t, inst, 1)
	assert.Equal(t, []string{rs[0].ID}, inst[0].SecurityGroupIDs)

	require.NoError(t, d.Remove())
	s.requireSameAs(before, "the last machine's rm deletes the prepared group")
}

// Creates started at once for a group name nobody has made yet each make
// a group (CreateSecurityGroup is slowed down so that all of them look
// before any has made one); they settle on one and the others are deleted.
func TestConcurrentCreatesEndInOneGroup(t *testing.T) {
	const n = 5
	f := fastFaults()
	f.ActionLatency = map[string]cloudsim.Duration{"CreateSecurityGroup": cloudsim.Duration(500 * time.Millisecond)}
	s := startSim(t, f)
	before := s.snapshot()
	opts := map[string]any{"aliyunecs-security-group": "fleet-race"}

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

	calls := countActions(s.callsSince(seq))
	assert.Equal(t, n, calls["CreateSecurityGroup"], "every create made a group of its own (the race happened)")
	assert.Equal(t, n-1, calls["DeleteSecurityGroup"], "the losers deleted theirs")

	r := s.resources()
	groups := groupsNamed(r, "fleet-race")
	require.Len(t, groups, 1, "one group is left")
	assert.ElementsMatch(t, []string{"tcp 22/22 0.0.0.0/0", "tcp 2376/2376 0.0.0.0/0"}, ingress(groups[0]), "each rule once, though every create added them")
	require.Len(t, r.Instances, n)
	for _, inst := range r.Instances {
		assert.Equal(t, []string{groups[0].ID}, inst.SecurityGroupIDs, "instance %s", inst.Name)
	}
	made := 0
	for _, d := range ds {
		assert.Equal(t, groups[0].ID, d.SecurityGroupId)
		if d.SecurityGroupCreated {
			made++
		}
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

// A group that was there before the race is never deleted, and the racers
// all use it.
func TestConcurrentPreparesAgreeOnOneGroup(t *testing.T) {
	const n = 5
	f := fastFaults()
	f.ActionLatency = map[string]cloudsim.Duration{"CreateSecurityGroup": cloudsim.Duration(300 * time.Millisecond)}
	s := startSim(t, f)
	before := s.snapshot()
	opts := map[string]any{"aliyunecs-security-group": "fleet-prep"}

	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		p := newPreparer(t, s, opts)
		wg.Add(1)
		go func() {
			defer wg.Done()
			rs, err := p.PrepareShared(t.Context())
			errs[i] = err
			if err == nil && len(rs) == 1 {
				ids[i] = rs[0].ID
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "prepare %d", i)
	}
	groups := groupsNamed(s.resources(), "fleet-prep")
	require.Len(t, groups, 1)
	for _, id := range ids {
		assert.Equal(t, groups[0].ID, id)
	}

	d := newDriver(t, s, "prep-1", opts)
	require.NoError(t, d.PreCreateCheck())
	require.NoError(t, d.Create())
	assert.Equal(t, groups[0].ID, d.SecurityGroupId)
	require.NoError(t, d.Remove())
	s.requireSameAs(before, "after rm of the only machine")
}

func TestCreationTimeResolution(t *testing.T) {
	at, tick := parseCreationTime("2026-12-01T13:47:28Z")
	assert.Equal(t, time.Date(2026, 12, 1, 13, 47, 28, 0, time.UTC), at)
	assert.Equal(t, time.Second, tick)
	at, tick = parseCreationTime("2026-12-01T13:47Z")
	assert.Equal(t, time.Date(2026, 12, 1, 13, 47, 0, 0, time.UTC), at)
	assert.Equal(t, time.Minute, tick)
	at, _ = parseCreationTime("")
	assert.True(t, at.IsZero(), "an unreadable time counts as long ago")
}
