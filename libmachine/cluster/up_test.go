package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/libmachine/swarm"
)

// fakeMachines is a store with creates that can be made to fail.
type fakeMachines struct {
	mu             sync.Mutex
	names          map[string]bool
	log            []string // create/remove calls in order of start
	running        int
	peak           int
	seedDone       map[string]bool // which creates had finished when each started
	failOn         map[string]error
	leftover       map[string]bool // a failed create leaves its store entry
	removeFailOnce map[string]bool
	prepared       int
}

func newFakeMachines(existing ...string) *fakeMachines {
	m := &fakeMachines{names: map[string]bool{}, failOn: map[string]error{}, leftover: map[string]bool{}, seedDone: map[string]bool{}, removeFailOnce: map[string]bool{}}
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

func (m *fakeMachines) Create(_ context.Context, n Node, out io.Writer) error {
	m.mu.Lock()
	m.log = append(m.log, "create "+n.Name)
	m.running++
	m.peak = max(m.peak, m.running)
	fail := m.failOn[n.Name]
	if fail != nil && m.leftover[n.Name] {
		m.names[n.Name] = true
	}
	m.mu.Unlock()
	fmt.Fprintf(out, "Creating %s...\n", n.Name)
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

func (m *fakeMachines) Remove(_ context.Context, name string, force bool, _ io.Writer) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.log = append(m.log, fmt.Sprintf("remove %s force=%t", name, force))
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
	fakeNetworks
}

func newFakeSwarm() *fakeSwarm {
	return &fakeSwarm{role: map[string]Role{}, cluster: map[string]string{}, failJoin: map[string]error{}}
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
	s.calls = append(s.calls, "manager "+m)
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
	s.calls = append(s.calls, fmt.Sprintf("join %s %s via %s", m, role, manager))
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
	assert.Equal(t, []string{"c-worker-1"}, names(p.Seeds), "managers have a node of their configuration already; workers (other options) need a seed")
	assert.Equal(t, []string{"c-worker-9"}, p.Extra)
	assert.Contains(t, p.Describe(), "create c-worker-1 (worker, aliyunecs) first, alone")
	assert.Contains(t, p.Describe(), "keep c-manager-2 (exists)")

	fresh := NewPlan(f, nil)
	assert.Equal(t, []string{"c-manager-1", "c-worker-1"}, names(fresh.Seeds), "one seed per driver configuration; the SLB does not count")
}

func TestUpCreatesJoinsAndSyncs(t *testing.T) {
	ctx := context.Background()
	f := parseUp(t)
	m, sw := newFakeMachines(), newFakeSwarm()
	sw.services = []Service{{Name: "web", Ports: []PublishedPort{{Protocol: "tcp", Published: 30000}}}}
	lbs := map[string]*fakeSLB{"lb-ctrl": newFakeSLB(tcp(22, 22, "by hand", "running")), "lb-work": newFakeSLB()}
	var events []Event
	res := Up(ctx, f, m, sw, Options{Parallel: 2, LoadBalancers: slbs(lbs), Progress: func(e Event) { events = append(events, e) }})
	require.NoError(t, res.Err())

	assert.Len(t, res.Created, 7)
	assert.Equal(t, 1, m.prepared, "certificates are prepared once, before the creates")
	assert.Equal(t, []string{"create c-manager-1", "create c-worker-1"}, m.log[:2], "seeds are created first, one at a time")
	assert.LessOrEqual(t, m.peak, 2, "--parallel bounds the creates")
	assert.Equal(t, "c-manager-1", res.Manager)
	assert.Equal(t, "swarm-of-c-manager-1", res.ClusterID)
	assert.Equal(t, []string{"manager c-manager-1", "join c-manager-2 manager via c-manager-1", "join c-manager-3 manager via c-manager-1"}, sw.calls[:3], "managers join before workers")
	assert.Equal(t, 1, sw.peakManagers, "managers join one at a time")
	assert.Len(t, sw.calls, 7)
	assert.Len(t, res.Joined, 7)

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
	lbs := map[string]*fakeSLB{"lb-ctrl": newFakeSLB(), "lb-work": newFakeSLB()}
	res := Up(ctx, f, m, sw, Options{Parallel: 4, LoadBalancers: slbs(lbs)})

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

func TestUpWithoutManagerJoinsNothing(t *testing.T) {
	f := parseUp(t)
	m, sw := newFakeMachines(), newFakeSwarm()
	for i := 1; i <= 3; i++ {
		sw.failJoin[MachineName("c", "manager", i)] = errors.New("daemon unreachable")
	}
	res := Up(context.Background(), f, m, sw, Options{LoadBalancers: slbs(nil)})
	assert.ErrorContains(t, res.Err(), "no manager could run the swarm")
	assert.Equal(t, []string{"manager c-manager-1", "manager c-manager-2", "manager c-manager-3"}, sw.calls, "each new manager is tried; workers are not joined")
	names, _ := m.List(context.Background())
	assert.Equal(t, []string{"c-worker-1", "c-worker-2", "c-worker-3", "c-worker-4"}, names)
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
