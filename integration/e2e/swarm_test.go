//go:build integration

package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/integration/hostworld"
)

// swarmNode is one entry of `swarm ls --format json`.
type swarmNode struct {
	Name, Machine, Hostname, ID, Role, Availability, Status, ManagerStatus, Addr string
}

// swarmMachines starts n hosts with Docker preinstalled and makes them
// generic machines m1..mn. The first create makes the store's CA alone;
// the rest run in parallel.
func swarmMachines(t *testing.T, n int) (*machine, []*hostworld.Host) {
	t.Helper()
	ctx := t.Context()
	key, pub := sshKey(t)
	img, err := hostworld.EnsureImage(ctx, hostworld.ImageOptions{WithDocker: true})
	require.NoError(t, err)
	hosts := hostworld.StartHosts(t, n, hostworld.HostOptions{AuthorizedKeys: []string{pub}, Image: img})
	m := newMachine(t)
	create := func(i int) {
		m.must(ctx, "create", "-d", "generic", "--generic-ip-address", hosts[i].IP, "--generic-ssh-key", key,
			"--engine-install-url", "none", fmt.Sprintf("m%d", i+1))
	}
	create(0)
	var wg sync.WaitGroup
	for i := 1; i < n; i++ {
		wg.Go(func() { create(i) })
	}
	wg.Wait()
	return m, hosts
}

func swarmLs(t *testing.T, m *machine, manager string) []swarmNode {
	t.Helper()
	out := m.must(t.Context(), "swarm", "ls", "--format", "json", manager)
	var nodes []swarmNode
	require.NoError(t, json.Unmarshal([]byte(out), &nodes), out)
	return nodes
}

// eventually polls cond with backoff until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	pause := 200 * time.Millisecond
	for {
		ok, seen := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last seen: %s", timeout, what, seen)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("stopped waiting for %s: %v", what, t.Context().Err())
		case <-time.After(pause):
		}
		pause = min(pause*2, 3*time.Second)
	}
}

var initialisedRe = regexp.MustCompile(`initialised swarm (\S+);`)

// TestSwarmInitJoinLsOnRealHosts forms a swarm of three machines, checks
// that doing it again changes nothing, promotes one, and refuses a machine
// of another swarm.
func TestSwarmInitJoinLsOnRealHosts(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	m, hosts := swarmMachines(t, 4)

	start := time.Now()
	initOut := m.must(ctx, "swarm", "init", "m1")
	initTook := time.Since(start)
	joinStart := time.Now()
	joinOut := m.must(ctx, "swarm", "join", "--manager", "m1", "m2", "m3")
	joinTook := time.Since(joinStart)
	t.Logf("measure: swarm init %s, join of 2 workers %s, total %s", initTook.Round(time.Millisecond), joinTook.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	match := initialisedRe.FindStringSubmatch(initOut)
	require.NotNil(t, match, initOut)
	cluster := match[1]
	assert.Contains(t, joinOut, "m2: joined as worker")
	assert.Contains(t, joinOut, "m3: joined as worker")

	nodes := swarmLs(t, m, "m1")
	require.Len(t, nodes, 3)
	leaders := 0
	for i, n := range nodes {
		assert.Equal(t, fmt.Sprintf("m%d", i+1), n.Name)
		assert.Equal(t, "Ready", n.Status, n.Name)
		assert.Equal(t, "Active", n.Availability, n.Name)
		assert.Equal(t, hosts[i].IP, n.Addr, "%s advertises its own address", n.Name)
		if n.ManagerStatus == "Leader" {
			leaders++
		}
	}
	assert.Equal(t, 1, leaders)
	assert.Equal(t, "manager", nodes[0].Role)
	assert.Equal(t, "worker", nodes[1].Role)

	// The table form, as a user sees it.
	table := m.must(ctx, "swarm", "ls", "m1")
	assert.Regexp(t, `(?m)^NODE\s+ID\s+ROLE\s+AVAILABILITY\s+STATUS\s+MANAGER STATUS$`, table)
	assert.Regexp(t, `(?m)^m1\s+`+nodes[0].ID+`\s+manager\s+Active\s+Ready\s+Leader$`, table)

	// The docker CLI agrees.
	env := dockerEnv(t, m.must(ctx, "env", "m1"))
	out, err := docker(ctx, t, env, "node", "ls", "--format", "{{.Hostname}} {{.Status}} {{.ManagerStatus}}")
	require.NoError(t, err, out)
	assert.Contains(t, out, "m1 Ready Leader")
	assert.Contains(t, out, "m2 Ready \n")

	// Again: nothing changes.
	again := m.must(ctx, "swarm", "init", "m1")
	assert.Contains(t, again, "m1: already a manager of swarm "+cluster+"; nothing to do")
	again = m.must(ctx, "swarm", "join", "--manager", "m1", "m2", "m3")
	assert.Contains(t, again, "m2: already a worker of swarm "+cluster+"; nothing to do")
	assert.Contains(t, again, "m3: already a worker of swarm "+cluster+"; nothing to do")
	assert.Equal(t, nodes, swarmLs(t, m, "m1"), "same nodes, same IDs")

	// Promotion through join.
	up := m.must(ctx, "swarm", "join", "--manager", "m1", "--role", "manager", "m2")
	assert.Contains(t, up, "m2: promoted to manager (node "+nodes[1].ID+")")
	promoted := swarmLs(t, m, "m1")
	assert.Equal(t, "manager", promoted[1].Role)
	assert.Equal(t, "Reachable", promoted[1].ManagerStatus, "the join returns once the new manager is reachable")

	// A machine in its own swarm is refused with both swarms named.
	ownOut := m.must(ctx, "swarm", "init", "m4")
	own := initialisedRe.FindStringSubmatch(ownOut)
	require.NotNil(t, own, ownOut)
	stdout, stderr, code := m.run(ctx, "swarm", "join", "--manager", "m1", "m4")
	assert.Equal(t, 1, code, stdout)
	assert.Contains(t, stderr, `machine "m4" is already in another swarm (swarm `+own[1]+`), not in swarm `+cluster+` of "m1"`)
	assert.Contains(t, stderr, "docker-machine swarm leave --force m4")
	assert.Len(t, swarmLs(t, m, "m4"), 1, "the other swarm is left alone")
}

// TestSwarmOfThreeManagersSurvivesLosingOne is seed 000's layout: three
// managers; with Docker stopped on one, the swarm still takes changes.
func TestSwarmOfThreeManagersSurvivesLosingOne(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	m, _ := swarmMachines(t, 3)

	m.must(ctx, "swarm", "init", "m1")
	start := time.Now()
	out := m.must(ctx, "swarm", "join", "--manager", "m1", "--role", "manager", "m2", "m3")
	t.Logf("measure: join of 2 managers (one at a time) %s", time.Since(start).Round(time.Millisecond))
	assert.Contains(t, out, "m2: joined as manager")
	assert.Contains(t, out, "m3: joined as manager")
	nodes := swarmLs(t, m, "m1")
	require.Len(t, nodes, 3)
	for _, n := range nodes {
		assert.Equal(t, "manager", n.Role)
		assert.Contains(t, []string{"Leader", "Reachable"}, n.ManagerStatus, n.Name)
	}

	m.must(ctx, "ssh", "m3", "sudo systemctl stop docker.socket docker")
	eventually(t, 90*time.Second, "m1 to see m3 unreachable", func() (bool, string) {
		nodes := swarmLs(t, m, "m1")
		return len(nodes) == 3 && nodes[2].ManagerStatus == "Unreachable", fmt.Sprintf("%+v", nodes)
	})
	nodes = swarmLs(t, m, "m1")
	reachable := 0
	for _, n := range nodes[:2] {
		if n.ManagerStatus == "Leader" || n.ManagerStatus == "Reachable" {
			reachable++
		}
	}
	assert.Equal(t, 2, reachable, "%+v", nodes)

	// Writable: an overlay network (a swarm object, written through raft)
	// can be created and removed through m1.
	env := dockerEnv(t, m.must(ctx, "env", "m1"))
	name := "probe-" + strings.ToLower(nodes[0].ID[:6])
	out, err := docker(ctx, t, env, "network", "create", "-d", "overlay", name)
	require.NoError(t, err, out)
	out, err = docker(ctx, t, env, "network", "inspect", "-f", "{{.Scope}}", name)
	require.NoError(t, err, out)
	assert.Equal(t, "swarm\n", out)
	out, err = docker(ctx, t, env, "network", "rm", name)
	require.NoError(t, err, out)

	// The swarm commands still work through the remaining managers, and a
	// join that is already in place stays a no-op.
	again := m.must(ctx, "swarm", "join", "--manager", "m1", "--role", "manager", "m2")
	assert.Contains(t, again, "m2: already a manager")

	// Docker back on m3: it rejoins the raft by itself.
	m.must(ctx, "ssh", "m3", "sudo systemctl start docker")
	eventually(t, 90*time.Second, "m3 to be reachable again", func() (bool, string) {
		nodes := swarmLs(t, m, "m1")
		return len(nodes) == 3 && nodes[2].ManagerStatus == "Reachable" && nodes[2].Status == "Ready", fmt.Sprintf("%+v", nodes)
	})
}
