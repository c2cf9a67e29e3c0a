package swarm

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/docker/machine/libmachine/drivers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/cmd/docker-machine/internal/clitest"
	"github.com/fleetdock/machine/drivers/none"
	"github.com/fleetdock/machine/integration/swarmtest"
	"github.com/fleetdock/machine/libmachine/plugin"
)

func init() { plugin.RegisterBuiltin("none", func() drivers.Driver { return none.NewDriver("", "") }) }

var cli = clitest.Runner(NewCmd)

// swarmWorld is a store whose machines m1..mN are none machines pointed at
// simulated Docker daemons on 127.0.0.(10+i), with server certificates from
// the store's CA, so every command goes through the real TLS path.
type swarmWorld struct {
	store   string
	world   *swarmtest.World
	daemons map[string]*swarmtest.Daemon
}

func newSwarmWorld(t *testing.T, n int) *swarmWorld {
	t.Helper()
	store := clitest.NewStore(t)
	clitest.Bootstrap(t, store)
	var ips []string
	for i := 1; i <= n; i++ {
		ips = append(ips, fmt.Sprintf("127.0.0.%d", 10+i))
	}
	serverTLS := clitest.ServerTLS(t, store, ips...)

	w := &swarmWorld{store: store, world: swarmtest.NewWorld(t), daemons: map[string]*swarmtest.Daemon{}}
	for i, ip := range ips {
		name := fmt.Sprintf("m%d", i+1)
		d := w.world.DaemonOn(ip, name, "", serverTLS)
		w.daemons[name] = d
		clitest.CreateNone(t, store, name, d.URL())
	}
	return w
}

func (w *swarmWorld) joins() int {
	n := 0
	for _, e := range w.world.Events() {
		if e.Kind == "join-done" || e.Kind == "init" || e.Kind == "update" {
			n++
		}
	}
	return n
}

func TestSwarmInitJoinLsConvergeAndReport(t *testing.T) {
	w := newSwarmWorld(t, 3)
	r := cli(t, w.store, "init", "m1")
	require.Equal(t, 0, r.Code, r.Stderr)
	cluster := w.daemons["m1"].ClusterID()
	require.NotEmpty(t, cluster)
	assert.Equal(t, "127.0.0.11", w.daemons["m1"].IP, "the machine's IP is advertised")
	assert.Equal(t, fmt.Sprintf("m1: initialised swarm %s; it is its first manager (node %s)\nAdd nodes with: docker-machine swarm join --manager m1 NODE...\n", cluster, w.daemons["m1"].NodeID()), r.Stdout)

	r = cli(t, w.store, "join", "--manager", "m1", "m2", "m3")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Contains(t, r.Stdout, "m2: joined as worker (node "+w.daemons["m2"].NodeID()+")\n")
	assert.Contains(t, r.Stdout, "m3: joined as worker (node "+w.daemons["m3"].NodeID()+")\n")
	assert.Equal(t, cluster, w.daemons["m3"].ClusterID())

	// Again: nothing happens, and each machine says so.
	changes := w.joins()
	r = cli(t, w.store, "init", "m1")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Equal(t, "m1: already a manager of swarm "+cluster+"; nothing to do\n", r.Stdout)
	r = cli(t, w.store, "join", "--manager", "m1", "m2", "m3")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Contains(t, r.Stdout, "m2: already a worker of swarm "+cluster+"; nothing to do\n")
	assert.Contains(t, r.Stdout, "m3: already a worker of swarm "+cluster+"; nothing to do\n")
	assert.Equal(t, changes, w.joins())

	r = cli(t, w.store, "ls", "m1")
	require.Equal(t, 0, r.Code, r.Stderr)
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	require.Len(t, lines, 4, r.Stdout)
	assert.Regexp(t, `^NODE\s+ID\s+ROLE\s+AVAILABILITY\s+STATUS\s+MANAGER STATUS$`, lines[0])
	assert.Regexp(t, `^m1\s+`+w.daemons["m1"].NodeID()+`\s+manager\s+Active\s+Ready\s+Leader$`, lines[1])
	assert.Regexp(t, `^m2\s+`+w.daemons["m2"].NodeID()+`\s+worker\s+Active\s+Ready$`, strings.TrimSpace(lines[2]))
	assert.Regexp(t, `^m3\s+\S+\s+worker\s+Active\s+Ready$`, strings.TrimSpace(lines[3]))

	r = cli(t, w.store, "ls", "--format", "json", "m1")
	require.Equal(t, 0, r.Code, r.Stderr)
	var nodes []map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &nodes), r.Stdout)
	require.Len(t, nodes, 3)
	assert.Equal(t, "m1", nodes[0]["Name"])
	assert.Equal(t, "m1", nodes[0]["Machine"])
	assert.Equal(t, "Leader", nodes[0]["ManagerStatus"])
	assert.Equal(t, true, nodes[0]["Self"])
	assert.Equal(t, "127.0.0.12", nodes[1]["Addr"])

	r = cli(t, w.store, "ls", "-f", "{{.Name}} {{.Role}} {{.Status}}", "m1")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Equal(t, "m1 manager Ready\nm2 worker Ready\nm3 worker Ready\n", r.Stdout)
	r = cli(t, w.store, "ls", "--format", `table {{.Name}}\t{{.ManagerStatus}}`, "m1")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Regexp(t, `^NODE\s+MANAGER STATUS\nm1\s+Leader\n`, r.Stdout)
	r = cli(t, w.store, "ls", "--format", "{{.Nope}}", "m1")
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, "--format")

	// Roles converge too: promote through join, then demote and promote again.
	r = cli(t, w.store, "join", "--manager", "m1", "--role", "manager", "m2")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Equal(t, "m2: promoted to manager (node "+w.daemons["m2"].NodeID()+")\n", r.Stdout)
	assert.Contains(t, r.Stderr, "two-manager configuration", "the daemon's advice is passed on")
	r = cli(t, w.store, "demote", "--manager", "m1", "m2", "m3")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Equal(t, "m2: demoted to worker (node "+w.daemons["m2"].NodeID()+")\nm3: already a worker of swarm "+cluster+"; nothing to do\n", r.Stdout)
	r = cli(t, w.store, "promote", "--manager", "m1", "m3")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Contains(t, r.Stdout, "m3: promoted to manager")
	r = cli(t, w.store, "ls", "-f", "{{.Name}} {{.ManagerStatus}}", "m1")
	assert.Equal(t, "m1 Leader\nm2 \nm3 Reachable\n", r.Stdout)
}

func TestSwarmJoinReportsEachFailureAndExitsOne(t *testing.T) {
	w := newSwarmWorld(t, 4)
	require.Equal(t, 0, cli(t, w.store, "init", "m1").Code)
	r := cli(t, w.store, "init", "m4")
	require.Equal(t, 0, r.Code, r.Stderr)
	other := w.daemons["m4"].ClusterID()

	r = cli(t, w.store, "join", "--manager", "m1", "m2", "m4", "ghost")
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stdout, "m2: joined as worker")
	assert.Contains(t, r.Stderr, `m4: failed: machine "m4" is already in another swarm (swarm `+other+`), not in swarm `+w.daemons["m1"].ClusterID()+` of "m1"`)
	assert.Contains(t, r.Stderr, "docker-machine swarm leave --force m4")
	assert.Contains(t, r.Stderr, "ghost: failed: ")
	assert.Contains(t, r.Stderr, `2 of 3 machines could not join the swarm of "m1"`)
	assert.Equal(t, other, w.daemons["m4"].ClusterID(), "the other swarm is left alone")

	// Leaving it, then joining, works.
	r = cli(t, w.store, "leave", "--force", "m4")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Equal(t, "m4: left the swarm\n", r.Stdout)
	r = cli(t, w.store, "join", "--manager", "m1", "m4")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Contains(t, r.Stdout, "m4: joined as worker")

	// Bad invocations say what is wrong before touching anything.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"join", "m2"}, `"manager" not set`},
		{[]string{"join", "--manager", "m1"}, "name at least one machine"},
		{[]string{"join", "--manager", "m1", "m2", "m2"}, `"m2" is named twice`},
		{[]string{"join", "--manager", "m1", "--role", "boss", "m2"}, `invalid swarm role "boss"`},
		{[]string{"join", "--manager", "m1", "--advertise-addr", "10.1.1.1", "m2", "m3"}, "one at a time"},
		{[]string{"join", "--manager", "ghost", "m2"}, `"ghost" does not exist`},
		{[]string{"ls", "m2"}, `"m2" is a worker`},
		{[]string{"ls", "m3"}, `"m3" is not in a swarm`},
	} {
		before := len(w.world.Events())
		r := cli(t, w.store, c.args...)
		assert.Equal(t, 1, r.Code, "%v", c.args)
		assert.Contains(t, r.Stderr, c.want, "%v", c.args)
		assert.Len(t, w.world.Events(), before, "%v changed the swarm", c.args)
	}
}

func TestSwarmLeaveThroughAManagerKeepsTheListTidy(t *testing.T) {
	w := newSwarmWorld(t, 3)
	require.Equal(t, 0, cli(t, w.store, "init", "m1").Code)
	r := cli(t, w.store, "join", "--manager", "m1", "--role", "manager", "m2", "m3")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Empty(t, r.Stderr, "three managers: nothing to warn about")

	r = cli(t, w.store, "leave", "m2")
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, "participating as a manager")
	assert.Contains(t, r.Stderr, "--manager")

	r = cli(t, w.store, "leave", "--manager", "m1", "m2")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Equal(t, "m2: left the swarm\n", r.Stdout)
	r = cli(t, w.store, "ls", "-f", "{{.Name}} {{.Role}} {{.ManagerStatus}}", "m1")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Equal(t, "m1 manager Leader\nm3 manager Reachable\n", r.Stdout)

	r = cli(t, w.store, "leave", "m2")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Equal(t, "m2: not in a swarm; nothing to do\n", r.Stdout)
}
