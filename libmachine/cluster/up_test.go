package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/libmachine/capability"
	"github.com/fleetdock/machine/libmachine/swarm"
)

// fakeMachines is a store with creates that can be made to fail, or to
// wait at a gate until the test opens it.
type fakeMachines struct {
	mu             sync.Mutex
	names          map[string]bool
	log            []string // prepare/create/remove calls in order of start
	running        int
	peak           int
	failOn         map[string]error
	leftover       map[string]bool // a failed create leaves its store entry
	removeFailOnce map[string]bool
	prepared       int
	gate           map[string]chan struct{} // a create waits for its gate to close
	failShared     map[string]error         // by group: its shared resources cannot be made
	starts         chan string              // the name of every create, as it starts
}

func newFakeMachines(existing ...string) *fakeMachines {
	m := &fakeMachines{names: map[string]bool{}, failOn: map[string]error{}, leftover: map[string]bool{}, removeFailOnce: map[string]bool{},
		gate: map[string]chan struct{}{}, failShared: map[string]error{}, starts: make(chan string, 100)}
	for _, n := range existing {
		m.names[n] = true
	}
	return m
}

func (m *fakeMachines) List(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for n := range m.names {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

func (m *fakeMachines) Prepare(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.prepared++
	return nil
}

func (m *fakeMachines) PrepareShared(_ context.Context, n Node, _ io.Writer) ([]capability.Resource, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.log = append(m.log, "prepare "+n.Name)
	if err := m.failShared[n.Group]; err != nil {
		return nil, err
	}
	return []capability.Resource{{Kind: "security group", ID: "sg-" + n.Group, Region: "r-1"}}, nil
}

// slow makes the creates of names wait until the test opens their gates.
func (m *fakeMachines) slow(names ...string) {
	for _, n := range names {
		m.gate[n] = make(chan struct{})
	}
}

func (m *fakeMachines) open(name string) { close(m.gate[name]) }

func (m *fakeMachines) Create(ctx context.Context, n Node, out io.Writer) error {
	m.mu.Lock()
	m.log = append(m.log, "create "+n.Name)
	m.running++
	m.peak = max(m.peak, m.running)
	fail := m.failOn[n.Name]
	if fail != nil && m.leftover[n.Name] {
		m.names[n.Name] = true
	}
	gate := m.gate[n.Name]
	m.mu.Unlock()
	m.starts <- n.Name
	fmt.Fprintf(out, "Creating %s...\n", n.Name)
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			fail = ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.running--
	if fail != nil {
		return fail
	}
	m.names[n.Name] = true
	return nil
}

func (m *fakeMachines) Exists(name string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.names[name], nil
}

func (m *fakeMachines) Remove(ctx context.Context, name string, force bool, _ io.Writer) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.log = append(m.log, fmt.Sprintf("remove %s force=%t", name, force))
	if err := ctx.Err(); err != nil {
		return err
	}
	if m.removeFailOnce[name] && !force {
		delete(m.removeFailOnce, name)
		return errors.New("instance is stuck")
	}
	delete(m.names, name)
	return nil
}

func (m *fakeMachines) State(_ context.Context, name string) (string, error) {
	if m.names[name] {
		return "Running", nil
	}
	return "", errors.New("no such machine")
}

// fakeSwarm keeps each machine's swarm membership.
type fakeSwarm struct {
	mu                            sync.Mutex
	role                          map[string]Role   // "" = not in a swarm
	cluster                       map[string]string // machine -> cluster ID
	calls                         []string
	failJoin                      map[string]error
	managersJoining, peakManagers int
	services                      []Service
	seen                          chan string // every EnsureManager and EnsureJoined call, as it is made
	fakeNetworks
}

func newFakeSwarm() *fakeSwarm {
	return &fakeSwarm{role: map[string]Role{}, cluster: map[string]string{}, failJoin: map[string]error{}, seen: make(chan string, 100)}
}

func (s *fakeSwarm) call(c string) {
	s.calls = append(s.calls, c)
	s.seen <- c
}

func (s *fakeSwarm) Info(_ context.Context, m string) (swarm.Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.role[m] == "" {
		return swarm.Info{LocalNodeState: swarm.StateInactive}, nil
	}
	return swarm.Info{LocalNodeState: swarm.StateActive, ClusterID: s.cluster[m], ControlAvailable: s.role[m] == RoleManager}, nil
}

func (s *fakeSwarm) EnsureManager(_ context.Context, m string) (swarm.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.call("manager " + m)
	if err := s.failJoin[m]; err != nil {
		return swarm.Result{Machine: m, Action: swarm.ActionFailed, Err: err}, err
	}
	if s.role[m] == RoleManager {
		return swarm.Result{Machine: m, Action: swarm.ActionUnchanged, ClusterID: s.cluster[m], Role: swarm.RoleManager}, nil
	}
	s.role[m], s.cluster[m] = RoleManager, "swarm-of-"+m
	return swarm.Result{Machine: m, Action: swarm.ActionInitialized, ClusterID: s.cluster[m], Role: swarm.RoleManager}, nil
}

func (s *fakeSwarm) EnsureJoined(_ context.Context, manager, m string, role Role) (swarm.Result, error) {
	s.mu.Lock()
	s.call(fmt.Sprintf("join %s %s via %s", m, role, manager))
	if role == RoleManager {
		s.managersJoining++
		s.peakManagers = max(s.peakManagers, s.managersJoining)
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if role == RoleManager {
			s.managersJoining--
		}
		s.mu.Unlock()
	}()
	if role == RoleManager {
		// A join takes a while: other goroutines run meanwhile, so that a
		// second manager joining at the same time would be seen.
		for range 1000 {
			runtime.Gosched()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.failJoin[m]; err != nil {
		return swarm.Result{Machine: m, Action: swarm.ActionFailed, Err: err}, err
	}
	if s.role[m] == role && s.cluster[m] == s.cluster[manager] {
		return swarm.Result{Machine: m, Action: swarm.ActionUnchanged, Role: swarm.Role(role)}, nil
	}
	s.role[m], s.cluster[m] = role, s.cluster[manager]
	return swarm.Result{Machine: m, Action: swarm.ActionJoined, Role: swarm.Role(role)}, nil
}

func (s *fakeSwarm) Services(context.Context, string) ([]Service, error) { return s.services, nil }

func (s *fakeSwarm) Nodes(_ context.Context, manager string, machines []string) ([]swarm.NodeStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []swarm.NodeStatus
	for _, m := range machines {
		if s.role[m] != "" && s.cluster[m] == s.cluster[manager] {
			out = append(out, swarm.NodeStatus{Machine: m, Name: m, ID: "id-" + m, Role: swarm.Role(s.role[m]), Status: "Ready"})
		}
	}
	return out, nil
}

const upFile = `name: c
driver: aliyunecs
groups:
  - {name: manager, role: manager, count: 3, slb: lb-ctrl}
  - {name: worker, count: 4, slb: lb-work, driver_options: {aliyunecs-instance-type: ecs.g6.large}}
load_balancers:
  - id: lb-ctrl
    listeners: [{port: 2377}, {port: 443}]
  - id: lb-work
    services: true
`

func parseUp(t *testing.T) *File {
	f, err := Parse("c.yml", []byte(upFile), env(nil))
	require.NoError(t, err)
	return f
}

func slbs(m map[string]*fakeSLB) func(context.Context, string) (LoadBalancers, error) {
	return func(_ context.Context, id string) (LoadBalancers, error) {
		if s, ok := m[id]; ok {
			return s, nil
		}
		return nil, fmt.Errorf("no SLB %s", id)
	}
}

func TestNewPlan(t *testing.T) {
	f := parseUp(t)
	p := NewPlan(f, []string{"c-manager-2", "c-worker-9", "c-worker-x", "other-worker-1", "c-worker-01"})
	names := func(ns []Node) []string {
		var out []string
		for _, n := range ns {
			out = append(out, n.Name)
		}
		return out
	}
	assert.Equal(t, []string{"c-manager-1", "c-manager-2", "c-manager-3", "c-worker-1", "c-worker-2", "c-worker-3", "c-worker-4"}, names(p.Nodes), "managers first")
	assert.Equal(t, []string{"c-manager-2"}, names(p.Present))
	assert.Equal(t, []string{"c-manager-1", "c-manager-3", "c-worker-1", "c-worker-2", "c-worker-3", "c-worker-4"}, names(p.Missing))
	assert.Equal(t, []string{"c-worker-9"}, p.Extra)
	assert.Contains(t, p.Describe(), "create c-worker-1 (worker, aliyunecs)")
	assert.Contains(t, p.Describe(), "keep c-manager-2 (exists)")

	ns := p.Nodes
	assert.Equal(t, ns[0].fingerprint(), ns[2].fingerprint(), "nodes of a group share their configuration")
	assert.NotEqual(t, ns[0].fingerprint(), ns[3].fingerprint(), "other driver options are another configuration; the SLB does not count")
}

func TestUpCreatesJoinsAndSyncs(t *testing.T) {
	ctx := context.Background()
	f := parseUp(t)
	m, sw := newFakeMachines(), newFakeSwarm()
	sw.services = []Service{{Name: "web", Ports: []PublishedPort{{Protocol: "tcp", Published: 30000}}}}
	lbs := map[string]*fakeSLB{"lb-ctrl": newFakeSLB(tcp(22, 22, "by hand", "running")), "lb-work": newFakeSLB()}
	var events []Event
	m.slow("c-manager-1", "c-manager-2")
	up := upInBackground(ctx, f, m, sw, Options{Parallel: 2, LoadBalancers: slbs(lbs), Progress: func(e Event) { events = append(events, e) }})
	assert.ElementsMatch(t, []string{"c-manager-1", "c-manager-2"}, []string{<-m.starts, <-m.starts}, "creates start in file order, managers first")
	m.open("c-manager-1")
	m.open("c-manager-2")
	res := up.result()
	require.NoError(t, res.Err())

	assert.Len(t, res.Created, 7)
	assert.Equal(t, 1, m.prepared, "certificates are prepared once, before the creates")
	assert.ElementsMatch(t, []string{"prepare c-manager-1", "prepare c-worker-1"}, m.log[:2], "what each driver configuration shares is prepared once, before any create")
	assert.LessOrEqual(t, m.peak, 2, "--parallel bounds the creates")
	assert.Contains(t, []string{"c-manager-1", "c-manager-2", "c-manager-3"}, res.Manager)
	assert.Equal(t, "swarm-of-"+res.Manager, res.ClusterID)
	assert.Equal(t, "manager "+res.Manager, sw.calls[0], "nobody joins before the swarm is initialised")
	for _, n := range []string{"c-manager-1", "c-manager-2", "c-manager-3"} {
		if n != res.Manager {
			assert.Contains(t, sw.calls, "join "+n+" manager via "+res.Manager)
		}
	}
	assert.Equal(t, 1, sw.peakManagers, "managers join one at a time")
	assert.Len(t, sw.calls, 7)
	assert.Len(t, res.Joined, 7)
	assert.Contains(t, events, Event{Line: "security group sg-worker in r-1 is ready for group worker"})

	ctrl, _ := lbs["lb-ctrl"].Listeners(ctx, "lb-ctrl")
	assert.Equal(t, []Listener{tcp(22, 22, "by hand", "running"), tcp(443, 443, ClusterMarker("c"), "running"), tcp(2377, 2377, ClusterMarker("c"), "running")}, ctrl)
	work, _ := lbs["lb-work"].Listeners(ctx, "lb-work")
	assert.Equal(t, []Listener{tcp(30000, 30000, ServiceMarker("web"), "running")}, work)
	assert.Contains(t, events, Event{Node: "c-worker-3", Line: "Creating c-worker-3..."}, "a node's output becomes its events")

	// Again: nothing is created, joined or changed.
	m.log, sw.calls = nil, nil
	lbs["lb-ctrl"].calls, lbs["lb-work"].calls = nil, nil
	again := Up(ctx, f, m, sw, Options{Parallel: 2, LoadBalancers: slbs(lbs)})
	require.NoError(t, again.Err())
	assert.Empty(t, again.Created)
	assert.Empty(t, again.Joined)
	assert.Len(t, again.Existing, 7)
	assert.Empty(t, m.log)
	assert.Empty(t, lbs["lb-ctrl"].calls)
	assert.Empty(t, lbs["lb-work"].calls)
}

func TestUpLeavesOutAFailedNode(t *testing.T) {
	ctx := context.Background()
	f := parseUp(t)
	m, sw := newFakeMachines(), newFakeSwarm()
	m.failOn["c-worker-2"] = errors.New("InvalidInstanceType.NotFound")
	m.failOn["c-worker-3"] = errors.New("cleanup failed")
	m.leftover["c-worker-3"] = true // its rollback could not finish
	m.removeFailOnce["c-worker-3"] = true
	sw.failJoin["c-manager-3"] = errors.New("raft timeout")
	m.slow("c-manager-3") // ready after the leader: it joins, and fails there
	lbs := map[string]*fakeSLB{"lb-ctrl": newFakeSLB(), "lb-work": newFakeSLB()}
	up := upInBackground(ctx, f, m, sw, Options{Parallel: 4, LoadBalancers: slbs(lbs)})
	leader := up.next(t, sw, 1)
	assert.Contains(t, []string{"manager c-manager-1", "manager c-manager-2"}, leader[0])
	m.open("c-manager-3")
	res := up.result()

	err := res.Err()
	require.Error(t, err)
	assert.ErrorContains(t, err, "node c-worker-2 failed (left out): InvalidInstanceType.NotFound")
	assert.ErrorContains(t, err, "node c-manager-3 failed (left out): joining the swarm as manager: raft timeout")
	assert.ErrorContains(t, err, "node c-worker-3 failed (left out)")
	names, _ := m.List(ctx)
	assert.Equal(t, []string{"c-manager-1", "c-manager-2", "c-worker-1", "c-worker-4"}, names, "failed nodes leave no store entry")
	assert.Contains(t, m.log, "remove c-worker-3 force=true", "a removal that fails is forced")
	assert.Contains(t, m.log, "remove c-manager-3 force=false", "a new node that cannot join is removed")
	assert.ElementsMatch(t, []string{"c-manager-1", "c-manager-2", "c-worker-1", "c-worker-4"}, res.Joined, "the rest is a consistent swarm")
	ctrl, _ := lbs["lb-ctrl"].Listeners(ctx, "lb-ctrl")
	assert.Len(t, ctrl, 2, "listeners are still synced")
}

func TestUpKeepsTheSwarmOfAnExistingManager(t *testing.T) {
	ctx := context.Background()
	f := parseUp(t)
	// c-manager-1 was removed by hand; c-manager-2 still runs the swarm.
	m, sw := newFakeMachines("c-manager-2"), newFakeSwarm()
	sw.role["c-manager-2"], sw.cluster["c-manager-2"] = RoleManager, "old"
	res := Up(ctx, f, m, sw, Options{LoadBalancers: slbs(map[string]*fakeSLB{"lb-ctrl": newFakeSLB(), "lb-work": newFakeSLB()})})
	require.NoError(t, res.Err())
	assert.Equal(t, "c-manager-2", res.Manager)
	assert.Equal(t, "old", res.ClusterID)
	assert.Equal(t, "old", sw.cluster["c-manager-1"], "the re-created first manager joins the existing swarm instead of starting one")
}

func TestUpWithoutManagerFailsAndRemovesTheWaitingNodes(t *testing.T) {
	f := parseUp(t)
	m, sw := newFakeMachines(), newFakeSwarm()
	for i := 1; i <= 3; i++ {
		sw.failJoin[MachineName("c", "manager", i)] = errors.New("daemon unreachable")
	}
	res := Up(context.Background(), f, m, sw, Options{LoadBalancers: slbs(nil)})
	err := res.Err()
	assert.ErrorContains(t, err, "no manager could run the swarm, so no node was joined")
	assert.ErrorContains(t, err, "node c-manager-2 failed (left out): initialising the swarm: daemon unreachable")
	assert.ErrorContains(t, err, "node c-worker-3 failed (left out): not joined: no manager could run the swarm")
	assert.ElementsMatch(t, []string{"manager c-manager-1", "manager c-manager-2", "manager c-manager-3"}, sw.calls, "each new manager is tried; workers are not joined")
	assert.Len(t, res.Failed, 7)
	assert.Empty(t, res.Manager)
	names, _ := m.List(context.Background())
	assert.Empty(t, names, "nodes that were created for a swarm that could not start are removed")
}

// background is an Up running on its own, whose swarm calls the test
// follows as they are made.
type background struct {
	done chan struct{}
	res  *Result
}

func upInBackground(ctx context.Context, f *File, m Machines, sw Swarm, opt Options) *background {
	b := &background{done: make(chan struct{})}
	go func() {
		defer close(b.done)
		b.res = Up(ctx, f, m, sw, opt)
	}()
	return b
}

// next returns the next n swarm calls; it fails the test when up ends
// without making them.
func (b *background) next(t *testing.T, sw *fakeSwarm, n int) []string {
	t.Helper()
	var got []string
	for len(got) < n {
		select {
		case c := <-sw.seen:
			got = append(got, c)
		case <-b.done:
			select {
			case c := <-sw.seen:
				got = append(got, c)
			default:
				require.FailNow(t, "up ended before making the swarm calls the test waits for", "got %v, want %d calls; error: %v", got, n, b.res.Err())
			}
		}
	}
	return got
}

func (b *background) result() *Result {
	<-b.done
	return b.res
}

func TestUpJoinsEachNodeAsSoonAsItIsReady(t *testing.T) {
	ctx := context.Background()
	f := parseUp(t)
	m, sw := newFakeMachines(), newFakeSwarm()
	m.slow("c-manager-1", "c-manager-3")
	up := upInBackground(ctx, f, m, sw, Options{LoadBalancers: slbs(map[string]*fakeSLB{"lb-ctrl": newFakeSLB(), "lb-work": newFakeSLB()})})

	assert.Equal(t, []string{"manager c-manager-2"}, up.next(t, sw, 1), "the first manager ready initialises the swarm, not the first in the file")
	assert.ElementsMatch(t, []string{
		"join c-worker-1 worker via c-manager-2", "join c-worker-2 worker via c-manager-2",
		"join c-worker-3 worker via c-manager-2", "join c-worker-4 worker via c-manager-2",
	}, up.next(t, sw, 4), "workers join while managers are still being created")
	m.open("c-manager-3")
	assert.Equal(t, []string{"join c-manager-3 manager via c-manager-2"}, up.next(t, sw, 1))
	m.open("c-manager-1")
	assert.Equal(t, []string{"join c-manager-1 manager via c-manager-2"}, up.next(t, sw, 1))

	res := up.result()
	require.NoError(t, res.Err())
	assert.Equal(t, "c-manager-2", res.Manager)
	assert.Len(t, res.Joined, 7)
}

func TestUpTriesTheNextManagerReadyWhenTheLeaderCannotInitialise(t *testing.T) {
	ctx := context.Background()
	f := parseUp(t)
	m, sw := newFakeMachines(), newFakeSwarm()
	m.slow("c-manager-1", "c-manager-3")
	sw.failJoin["c-manager-2"] = errors.New("swarm init: address already in use")
	up := upInBackground(ctx, f, m, sw, Options{LoadBalancers: slbs(map[string]*fakeSLB{"lb-ctrl": newFakeSLB(), "lb-work": newFakeSLB()})})

	assert.Equal(t, []string{"manager c-manager-2"}, up.next(t, sw, 1))
	m.open("c-manager-3")
	assert.Equal(t, []string{"manager c-manager-3"}, up.next(t, sw, 1), "workers wait; the next manager ready tries to lead")
	workers := up.next(t, sw, 4)
	for _, c := range workers {
		assert.Contains(t, c, "worker via c-manager-3")
	}
	m.open("c-manager-1")
	assert.Equal(t, []string{"join c-manager-1 manager via c-manager-3"}, up.next(t, sw, 1))

	res := up.result()
	assert.ErrorContains(t, res.Err(), "node c-manager-2 failed (left out): initialising the swarm: swarm init: address already in use")
	assert.Equal(t, "c-manager-3", res.Manager)
	assert.Contains(t, m.log, "remove c-manager-2 force=false", "the manager that could not lead is removed")
	names, _ := m.List(ctx)
	assert.NotContains(t, names, "c-manager-2")
	assert.Len(t, names, 6)
}

func TestUpPreparesSharedResourcesOncePerConfigurationBeforeAnyCreate(t *testing.T) {
	ctx := context.Background()
	f, err := Parse("c.yml", []byte(`name: c
driver: aliyunecs
groups:
  - {name: manager, role: manager, count: 2}
  - {name: edge, count: 2}
  - {name: worker, count: 3, driver_options: {aliyunecs-instance-type: ecs.g6.large}}
  - {name: gpu, count: 1, driver_options: {aliyunecs-instance-type: ecs.gn6i}}
`), env(nil))
	require.NoError(t, err)
	m, sw := newFakeMachines("c-worker-1", "c-gpu-1"), newFakeSwarm()
	var events []Event
	res := Up(ctx, f, m, sw, Options{LoadBalancers: slbs(nil), Progress: func(e Event) { events = append(events, e) }})
	require.NoError(t, res.Err())

	var prepares []string
	firstCreate := slices.IndexFunc(m.log, func(s string) bool { return strings.HasPrefix(s, "create ") })
	for i, l := range m.log {
		if strings.HasPrefix(l, "prepare ") {
			prepares = append(prepares, l)
			assert.Less(t, i, firstCreate, "%s comes before the first create", l)
		}
	}
	assert.ElementsMatch(t, []string{"prepare c-manager-1", "prepare c-worker-2"}, prepares,
		"once per driver configuration that has nodes to create; gpu has none")
	assert.Contains(t, events, Event{Line: "security group sg-manager in r-1 is ready for groups manager, edge"})
	assert.Contains(t, events, Event{Line: "security group sg-worker in r-1 is ready for group worker"})

	m.log = nil
	require.NoError(t, Up(ctx, f, m, sw, Options{LoadBalancers: slbs(nil)}).Err())
	assert.Empty(t, m.log, "with nothing to create, nothing is prepared")
}

func TestUpWhenSharedResourcesFailLeavesOutThatGroupOnly(t *testing.T) {
	ctx := context.Background()
	f := parseUp(t)
	m, sw := newFakeMachines(), newFakeSwarm()
	m.failShared["worker"] = errors.New("Forbidden.RAM: the key may not create security groups")
	res := Up(ctx, f, m, sw, Options{LoadBalancers: slbs(map[string]*fakeSLB{"lb-ctrl": newFakeSLB(), "lb-work": newFakeSLB()})})

	err := res.Err()
	for i := 1; i <= 4; i++ {
		assert.ErrorContains(t, err, fmt.Sprintf("node c-worker-%d failed (left out): not created: Forbidden.RAM: the key may not create security groups", i))
		assert.NotContains(t, m.log, fmt.Sprintf("create c-worker-%d", i), "nothing of the group is created")
	}
	assert.ElementsMatch(t, []string{"c-manager-1", "c-manager-2", "c-manager-3"}, res.Created, "the other group carries on")
	assert.ElementsMatch(t, []string{"c-manager-1", "c-manager-2", "c-manager-3"}, res.Joined)
	assert.NotEmpty(t, res.Manager)
}

func TestUpInterruptedCleansUpOnTheCleanupContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := parseUp(t)
	m, sw := newFakeMachines(), newFakeSwarm()
	m.slow("c-worker-4")
	m.leftover["c-worker-4"] = true // the interrupted create leaves its entry for the rollback
	m.failOn["c-worker-4"] = errors.New("interrupted")
	up := upInBackground(ctx, f, m, sw, Options{LoadBalancers: slbs(map[string]*fakeSLB{"lb-ctrl": newFakeSLB(), "lb-work": newFakeSLB()})})
	up.next(t, sw, 6) // every node but c-worker-4 is in the swarm
	cancel()

	res := up.result()
	require.Len(t, res.Failed, 1)
	assert.Equal(t, "c-worker-4", res.Failed[0].Node)
	assert.True(t, res.Failed[0].Removed)
	assert.Contains(t, m.log, "remove c-worker-4 force=false", "the cleanup runs although up's context has ended")
	assert.NotContains(t, m.log, "remove c-worker-4 force=true")
	names, _ := m.List(ctx)
	assert.Len(t, names, 6)
}

func TestDownRemovesNodesAndOwnListeners(t *testing.T) {
	ctx := context.Background()
	f := parseUp(t)
	m := newFakeMachines("c-manager-1", "c-manager-2", "c-manager-3", "c-worker-1", "c-worker-2", "c-worker-3", "c-worker-4", "c-worker-7", "unrelated")
	hand := tcp(22, 22, "by hand", "running")
	lbs := map[string]*fakeSLB{
		"lb-ctrl": newFakeSLB(hand, tcp(2377, 2377, ClusterMarker("c"), "running"), tcp(8080, 1, ServiceMarker("web"), "running")),
		"lb-work": newFakeSLB(tcp(8080, 30000, ServiceMarker("web"), "running")),
	}
	res := Down(ctx, f, m, Options{Parallel: 3, LoadBalancers: slbs(lbs)})
	require.NoError(t, res.Err())
	names, _ := m.List(ctx)
	assert.Equal(t, []string{"unrelated"}, names)
	assert.Len(t, res.Removed, 8)
	// The last node of each configuration goes alone, at the end.
	tail := m.log[len(m.log)-2:]
	assert.Equal(t, []string{"remove c-manager-3 force=false", "remove c-worker-4 force=false"}, tail)
	ctrl, _ := lbs["lb-ctrl"].Listeners(ctx, "lb-ctrl")
	assert.Equal(t, []Listener{hand, tcp(8080, 1, ServiceMarker("web"), "running")}, ctrl, "lb-ctrl does not sync services, so a service listener there is not the cluster's")
	work, _ := lbs["lb-work"].Listeners(ctx, "lb-work")
	assert.Empty(t, work)
}

func TestStatus(t *testing.T) {
	ctx := context.Background()
	f := parseUp(t)
	m, sw := newFakeMachines(), newFakeSwarm()
	lbs := map[string]*fakeSLB{"lb-ctrl": newFakeSLB(), "lb-work": newFakeSLB()}
	require.NoError(t, Up(ctx, f, m, sw, Options{LoadBalancers: slbs(lbs)}).Err())
	require.NoError(t, m.Remove(ctx, "c-worker-4", false, io.Discard))
	st, err := GetStatus(ctx, f, m, sw, Options{LoadBalancers: slbs(lbs)})
	require.NoError(t, err)
	assert.Equal(t, "c-manager-1", st.Manager)
	require.Len(t, st.Nodes, 7)
	assert.Equal(t, "Running", st.Nodes[0].State)
	assert.Equal(t, swarm.RoleManager, st.Nodes[0].Swarm.Role)
	assert.False(t, st.Nodes[6].Exists)
	assert.Equal(t, "Not created", st.Nodes[6].State)
	require.Len(t, st.LoadBalancers, 2)
	assert.Len(t, st.LoadBalancers[0].Listeners, 2)
	assert.Equal(t, "127.101.0.1", st.LoadBalancers[0].Address)
}
