package swarm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/swarmtest"
)

// world is a swarmtest.World with a Member for each daemon.
type world struct {
	*swarmtest.World
	daemons map[string]*swarmtest.Daemon
	members map[string]Member
}

// newWorld starts simulated daemons m1..mN advertising 10.9.0.1..N.
func newWorld(t *testing.T, n int) *world {
	t.Helper()
	server, client := swarmtest.NewTLS(t)
	w := &world{World: swarmtest.NewWorld(t), daemons: map[string]*swarmtest.Daemon{}, members: map[string]Member{}}
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("m%d", i)
		d := w.Daemon(name, "", server)
		e := NewEngine(d.URL(), client)
		e.Name = name
		t.Cleanup(e.Close)
		w.daemons[name] = d
		w.members[name] = Member{Name: name, Engine: e, AdvertiseAddr: fmt.Sprintf("10.9.0.%d", i)}
	}
	return w
}

func (w *world) m(name string) Member { return w.members[name] }

func kinds(events []swarmtest.Event, kind string) []swarmtest.Event {
	var out []swarmtest.Event
	for _, e := range events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

func TestEnsureManagerInitialisesOnceThenLeavesTheSwarmAlone(t *testing.T) {
	w := newWorld(t, 1)
	ctx := t.Context()
	r, err := EnsureManager(ctx, w.m("m1"))
	require.NoError(t, err)
	assert.Equal(t, ActionInitialized, r.Action)
	assert.Equal(t, w.daemons["m1"].ClusterID(), r.ClusterID)
	assert.Equal(t, w.daemons["m1"].NodeID(), r.NodeID)
	assert.Equal(t, "10.9.0.1", w.daemons["m1"].IP, "the member's address is advertised")
	assert.Contains(t, r.String(), "m1: initialised swarm "+r.ClusterID)

	again, err := EnsureManager(ctx, w.m("m1"))
	require.NoError(t, err)
	assert.Equal(t, ActionUnchanged, again.Action)
	assert.Equal(t, r.NodeID, again.NodeID)
	assert.Equal(t, r.ClusterID, again.ClusterID)
	assert.Len(t, kinds(w.Events(), "init"), 1)
}

func TestEnsureManagerRefusesAWorkerAndNeedsAnAddress(t *testing.T) {
	w := newWorld(t, 2)
	ctx := t.Context()
	_, err := EnsureManager(ctx, w.m("m1"))
	require.NoError(t, err)
	_, err = EnsureJoined(ctx, w.m("m1"), w.m("m2"), RoleWorker)
	require.NoError(t, err)
	r, err := EnsureManager(ctx, w.m("m2"))
	require.Error(t, err)
	assert.Equal(t, ActionFailed, r.Action)
	assert.Contains(t, err.Error(), `machine "m2" is a worker of a swarm managed by 10.9.0.1:2377`)
	assert.Contains(t, err.Error(), "docker-machine swarm leave m2")

	w2 := newWorld(t, 1)
	m := w2.m("m1")
	m.AdvertiseAddr = ""
	_, err = EnsureManager(ctx, m)
	assert.ErrorContains(t, err, "--advertise-addr")
	assert.Empty(t, kinds(w2.Events(), "init"))
}

func TestEnsureJoinedConvergesOnTheAskedRole(t *testing.T) {
	w := newWorld(t, 2)
	ctx := t.Context()
	mgr, err := EnsureManager(ctx, w.m("m1"))
	require.NoError(t, err)

	r, err := EnsureJoined(ctx, w.m("m1"), w.m("m2"), RoleWorker)
	require.NoError(t, err)
	assert.Equal(t, ActionJoined, r.Action)
	assert.Equal(t, mgr.ClusterID, r.ClusterID)
	assert.Equal(t, w.daemons["m2"].NodeID(), r.NodeID)
	assert.Equal(t, "10.9.0.2", w.daemons["m2"].IP)
	assert.Equal(t, "m2: joined as worker (node "+r.NodeID+")", r.String())

	again, err := EnsureJoined(ctx, w.m("m1"), w.m("m2"), RoleWorker)
	require.NoError(t, err)
	assert.Equal(t, ActionUnchanged, again.Action)
	assert.Equal(t, r.NodeID, again.NodeID)

	// The simulated swarm, like the recorded one, shows a promoted node as
	// a manager only a read later: the result waits for it.
	up, err := EnsureJoined(ctx, w.m("m1"), w.m("m2"), RoleManager)
	require.NoError(t, err)
	assert.Equal(t, ActionPromoted, up.Action)
	nodes, err := List(ctx, w.m("m1"), w.m("m2"))
	require.NoError(t, err)
	require.Len(t, nodes, 2)
	assert.Equal(t, "m2", nodes[1].Name)
	assert.Equal(t, RoleManager, nodes[1].Role)
	assert.Equal(t, "Reachable", nodes[1].ManagerStatus)

	down, err := SetRole(ctx, w.m("m1"), w.m("m2"), RoleWorker)
	require.NoError(t, err)
	assert.Equal(t, ActionDemoted, down.Action)
	assert.Len(t, kinds(w.Events(), "join-done"), 1, "one join in all")
	assert.Len(t, kinds(w.Events(), "update"), 2, "one promotion, one demotion")

	// The manager cannot demote itself through itself.
	_, err = EnsureJoined(ctx, w.m("m1"), w.m("m1"), RoleWorker)
	assert.ErrorContains(t, err, "cannot demote itself")
	self, err := EnsureJoined(ctx, w.m("m1"), w.m("m1"), RoleManager)
	require.NoError(t, err)
	assert.Equal(t, ActionUnchanged, self.Action)
}

func TestEnsureJoinedRefusesANodeOfAnotherSwarm(t *testing.T) {
	w := newWorld(t, 4)
	ctx := t.Context()
	ours, err := EnsureManager(ctx, w.m("m1"))
	require.NoError(t, err)
	theirs, err := EnsureManager(ctx, w.m("m3"))
	require.NoError(t, err)
	_, err = EnsureJoined(ctx, w.m("m3"), w.m("m4"), RoleWorker)
	require.NoError(t, err)

	// A manager of another swarm: both cluster IDs are named.
	_, err = EnsureJoined(ctx, w.m("m1"), w.m("m3"), RoleWorker)
	var other *OtherSwarmError
	require.True(t, errors.As(err, &other), "%v", err)
	assert.Contains(t, err.Error(), "swarm "+theirs.ClusterID)
	assert.Contains(t, err.Error(), "swarm "+ours.ClusterID)
	assert.Contains(t, err.Error(), "docker swarm leave --force")
	assert.Contains(t, err.Error(), "docker-machine swarm leave --force m3")

	// A worker of another swarm knows only its managers' addresses.
	_, err = EnsureJoined(ctx, w.m("m1"), w.m("m4"), RoleManager)
	require.True(t, errors.As(err, &other), "%v", err)
	assert.Contains(t, err.Error(), "a swarm managed by 10.9.0.3:2377")
	assert.Equal(t, theirs.ClusterID, w.daemons["m4"].ClusterID(), "nothing was changed")
	assert.Empty(t, kinds(w.Events(), "update"))
}

func TestEnsureJoinedNeedsAManagerThatCanTakeChanges(t *testing.T) {
	w := newWorld(t, 4)
	ctx := t.Context()
	_, err := EnsureJoined(ctx, w.m("m1"), w.m("m2"), RoleWorker)
	assert.ErrorContains(t, err, "docker-machine swarm init m1")

	_, err = EnsureManager(ctx, w.m("m1"))
	require.NoError(t, err)
	res := JoinAll(ctx, w.m("m1"), []Target{{w.m("m2"), RoleManager}, {w.m("m3"), RoleManager}}, JoinOptions{})
	require.NoError(t, res[0].Err)
	require.NoError(t, res[1].Err)
	w.daemons["m2"].Stop()
	w.daemons["m3"].Stop()
	_, err = EnsureManager(ctx, w.m("m1"))
	assert.ErrorContains(t, err, "cannot take changes now", "a manager without quorum is not reported as fine")
	_, err = EnsureJoined(ctx, w.m("m1"), w.m("m4"), RoleWorker)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot take changes now")
	assert.Contains(t, err.Error(), "does not have a leader")
	assert.Contains(t, err.Error(), "docker-machine swarm ls m1")
	assert.Empty(t, w.daemons["m4"].NodeID())
}

func TestJoinAllAddsManagersOneAtATimeThenWorkersTogether(t *testing.T) {
	w := newWorld(t, 6)
	ctx := t.Context()
	_, err := EnsureManager(ctx, w.m("m1"))
	require.NoError(t, err)

	// Every worker join waits inside the daemon until all three are in
	// flight: JoinAll must run them together to get past it. The first
	// manager join holds on a little to give a wrongly concurrent second
	// one the chance to start meanwhile.
	var mu sync.Mutex
	inFlight, managersInFlight, maxManagers := 0, 0, 0
	allIn := make(chan struct{})
	for _, n := range []string{"m2", "m3", "m4", "m5", "m6"} {
		w.daemons[n].JoinHook = func(role string) {
			mu.Lock()
			if role == "manager" {
				managersInFlight++
				maxManagers = max(maxManagers, managersInFlight)
				mu.Unlock()
				if n == "m2" {
					t := time.NewTimer(300 * time.Millisecond)
					defer t.Stop()
					select {
					case <-t.C:
					case <-ctx.Done():
					}
				}
				mu.Lock()
				managersInFlight--
				mu.Unlock()
				return
			}
			inFlight++
			if inFlight == 3 {
				close(allIn)
			}
			mu.Unlock()
			select {
			case <-allIn:
			case <-ctx.Done():
			}
		}
	}
	targets := []Target{
		{w.m("m4"), RoleWorker}, {w.m("m2"), RoleManager}, {w.m("m5"), RoleWorker},
		{w.m("m3"), RoleManager}, {w.m("m6"), RoleWorker},
	}
	var progress []string
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	results := JoinAll(cctx, w.m("m1"), targets, JoinOptions{Progress: func(r Result) { progress = append(progress, r.Machine) }})
	require.Len(t, results, 5)
	for i, r := range results {
		require.NoError(t, r.Err, "%s", r.Machine)
		assert.Equal(t, targets[i].Name, r.Machine, "results are in target order")
		assert.Equal(t, ActionJoined, r.Action)
		assert.Equal(t, targets[i].Role, r.Role)
	}
	assert.Equal(t, []string{"m2", "m3"}, progress[:2], "managers first, in order")
	assert.ElementsMatch(t, []string{"m4", "m5", "m6"}, progress[2:])
	assert.Equal(t, 1, maxManagers)

	// Each manager join completed before the next began, and before any worker.
	var order []string
	for _, e := range w.Events() {
		if e.Kind == "join-start" || e.Kind == "join-done" {
			order = append(order, e.Kind+" "+e.Daemon)
		}
	}
	assert.Equal(t, []string{"join-start m2", "join-done m2", "join-start m3", "join-done m3"}, order[:4])

	nodes, err := List(ctx, w.m("m1"))
	require.NoError(t, err)
	managers := 0
	for _, n := range nodes {
		assert.Equal(t, "Ready", n.Status)
		if n.Role == RoleManager {
			managers++
			assert.Contains(t, []string{"Leader", "Reachable"}, n.ManagerStatus)
		}
	}
	assert.Equal(t, 3, managers)

	// A second run changes nothing and says so for every node.
	before := len(w.Events())
	for _, r := range JoinAll(ctx, w.m("m1"), targets, JoinOptions{}) {
		require.NoError(t, r.Err)
		assert.Equal(t, ActionUnchanged, r.Action, r.Machine)
	}
	assert.Len(t, w.Events(), before)
}

func TestJoinAllReportsAFailureAndGoesOn(t *testing.T) {
	w := newWorld(t, 4)
	ctx := t.Context()
	_, err := EnsureManager(ctx, w.m("m1"))
	require.NoError(t, err)
	_, err = EnsureManager(ctx, w.m("m3")) // in a swarm of its own
	require.NoError(t, err)
	results := JoinAll(ctx, w.m("m1"), []Target{{w.m("m2"), RoleWorker}, {w.m("m3"), RoleWorker}, {w.m("m4"), RoleWorker}}, JoinOptions{Parallel: 1})
	assert.Equal(t, ActionJoined, results[0].Action)
	assert.Equal(t, ActionFailed, results[1].Action)
	assert.Contains(t, results[1].String(), "m3: failed: machine \"m3\" is already in another swarm")
	assert.Equal(t, ActionJoined, results[2].Action)
}

func TestListNamesNodesAfterMachinesAndShowsTheirHealth(t *testing.T) {
	w := newWorld(t, 4)
	ctx := t.Context()
	_, err := EnsureManager(ctx, w.m("m1"))
	require.NoError(t, err)
	results := JoinAll(ctx, w.m("m1"), []Target{{w.m("m2"), RoleManager}, {w.m("m3"), RoleManager}, {w.m("m4"), RoleWorker}}, JoinOptions{})
	for _, r := range results {
		require.NoError(t, r.Err)
	}
	w.daemons["m3"].Stop()

	// m4 is not among the known machines, and its address matches none:
	// it goes by its hostname, which is its daemon's name here too.
	other := w.m("m2")
	other.Name = "renamed-m2"
	nodes, err := List(ctx, w.m("m1"), other, w.m("m3"))
	require.NoError(t, err)
	require.Len(t, nodes, 4)
	got := map[string]NodeStatus{}
	for _, n := range nodes {
		got[n.Name] = n
	}
	require.Contains(t, got, "renamed-m2", "matched by address, not hostname")
	assert.Equal(t, "m2", got["renamed-m2"].Hostname)
	assert.Equal(t, "m1", got["m1"].Machine)
	assert.True(t, got["m1"].Self)
	assert.Equal(t, "Leader", got["m1"].ManagerStatus)
	assert.Equal(t, "Reachable", got["renamed-m2"].ManagerStatus)
	assert.Equal(t, "Unreachable", got["m3"].ManagerStatus)
	assert.Equal(t, "Down", got["m3"].Status)
	assert.Equal(t, "m4", got["m4"].Name)
	assert.Empty(t, got["m4"].Machine)
	assert.Equal(t, RoleWorker, got["m4"].Role)
	assert.Empty(t, got["m4"].ManagerStatus)
	assert.Equal(t, "Active", got["m4"].Availability)
	assert.Equal(t, "Ready", got["m4"].Status)

	// A worker cannot list.
	_, err = List(ctx, w.m("m4"))
	assert.ErrorContains(t, err, "only managers can list the nodes")
}

func TestLeaveDemotesThroughAManagerAndRemovesTheEntry(t *testing.T) {
	w := newWorld(t, 4)
	ctx := t.Context()
	_, err := EnsureManager(ctx, w.m("m1"))
	require.NoError(t, err)
	for _, r := range JoinAll(ctx, w.m("m1"), []Target{{w.m("m2"), RoleManager}, {w.m("m3"), RoleManager}, {w.m("m4"), RoleWorker}}, JoinOptions{}) {
		require.NoError(t, r.Err)
	}

	// Without a manager to demote it, the daemon refuses to let a manager go.
	_, err = Leave(ctx, w.m("m2"), nil, false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "participating as a manager")
	assert.Contains(t, err.Error(), "--manager")
	assert.NotEmpty(t, w.daemons["m2"].NodeID())

	m1 := w.m("m1")
	r, err := Leave(ctx, w.m("m2"), &m1, false)
	require.NoError(t, err)
	assert.Equal(t, ActionLeft, r.Action)
	r, err = Leave(ctx, w.m("m4"), &m1, false)
	require.NoError(t, err)
	assert.Equal(t, ActionLeft, r.Action)
	assert.Empty(t, w.daemons["m2"].NodeID())

	nodes, err := List(ctx, m1)
	require.NoError(t, err)
	var names []string
	for _, n := range nodes {
		names = append(names, n.Name)
		assert.Equal(t, "Ready", n.Status)
	}
	assert.Equal(t, []string{"m1", "m3"}, names, "left nodes are gone from the list")

	again, err := Leave(ctx, w.m("m2"), &m1, false)
	require.NoError(t, err)
	assert.Equal(t, ActionUnchanged, again.Action)
	assert.Equal(t, "m2: not in a swarm; nothing to do", again.String())

	// The node joins again as if new.
	back, err := EnsureJoined(ctx, m1, w.m("m2"), RoleWorker)
	require.NoError(t, err)
	assert.Equal(t, ActionJoined, back.Action)
}
