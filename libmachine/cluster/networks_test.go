package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetdock/machine/libmachine/swarm"
)

// fakeNetworks is the swarm's network list as a manager keeps it. Its zero
// value is a swarm with no networks.
type fakeNetworks struct {
	netMu     sync.Mutex
	nets      []swarm.Network
	netCalls  []string
	refuse    map[string]bool // names whose pool the allocator refuses
	createErr error
	listErr   error
	ids       int
}

func (f *fakeNetworks) Networks(_ context.Context, manager string) ([]swarm.Network, error) {
	f.netMu.Lock()
	defer f.netMu.Unlock()
	f.netCalls = append(f.netCalls, "list via "+manager)
	if f.listErr != nil {
		return nil, f.listErr
	}
	return slices.Clone(f.nets), nil
}

func (f *fakeNetworks) Network(_ context.Context, manager, id string) (swarm.Network, error) {
	f.netMu.Lock()
	defer f.netMu.Unlock()
	for _, n := range f.nets {
		if n.ID == id || n.Name == id {
			return n, nil
		}
	}
	return swarm.Network{}, &swarm.APIError{Machine: manager, Method: http.MethodGet, Path: "/networks/" + id, StatusCode: http.StatusNotFound, Message: "network " + id + " not found"}
}

func (f *fakeNetworks) CreateNetwork(_ context.Context, manager string, spec swarm.NetworkSpec) (string, error) {
	f.netMu.Lock()
	defer f.netMu.Unlock()
	f.netCalls = append(f.netCalls, fmt.Sprintf("create %s via %s", spec.Name, manager))
	if f.createErr != nil {
		return "", f.createErr
	}
	if slices.ContainsFunc(f.nets, func(n swarm.Network) bool { return n.Name == spec.Name }) {
		return "", &swarm.APIError{Machine: manager, Method: http.MethodPost, Path: "/networks/create", StatusCode: http.StatusConflict, Message: "network with name " + spec.Name + " already exists"}
	}
	f.ids++
	n := swarm.Network{ID: fmt.Sprintf("net%d", f.ids), Name: spec.Name, Driver: spec.Driver, Scope: "swarm", Attachable: spec.Attachable,
		Internal: spec.Internal, Options: maps.Clone(spec.Options), Labels: maps.Clone(spec.Labels)}
	if spec.Subnet != "" {
		n.IPAM = []swarm.IPAMConfig{{Subnet: spec.Subnet, Gateway: spec.Gateway, IPRange: spec.IPRange}}
	}
	if f.refuse[spec.Name] {
		n.Driver, n.IPAM, n.Options, n.Labels = "", nil, nil, nil
	}
	f.nets = append(f.nets, n)
	return n.ID, nil
}

func (f *fakeNetworks) RemoveNetwork(ctx context.Context, manager, id string) error {
	f.netMu.Lock()
	defer f.netMu.Unlock()
	f.netCalls = append(f.netCalls, fmt.Sprintf("remove %s via %s", id, manager))
	if err := ctx.Err(); err != nil {
		return err
	}
	f.nets = slices.DeleteFunc(f.nets, func(n swarm.Network) bool { return n.ID == id })
	return nil
}

func (f *fakeNetworks) names() []string {
	f.netMu.Lock()
	defer f.netMu.Unlock()
	var out []string
	for _, n := range f.nets {
		out = append(out, n.Name)
	}
	return out
}

const netFile = `name: c
driver: none
groups:
  - {name: manager, role: manager}
  - {name: worker, count: 2}
networks:
  - name: app
  - name: db
    internal: true
    attachable: false
    subnet: 10.231.0.0/24
    gateway: 10.231.0.254
    ip_range: 10.231.0.128/25
    options:
      encrypted:
      com.docker.network.driver.mtu: 1400
    labels: {tier: db}
`

func parseNetFile(t *testing.T) *File {
	t.Helper()
	f, err := Parse("c.yml", []byte(netFile), env(nil))
	require.NoError(t, err)
	return f
}

func TestParseNetworks(t *testing.T) {
	f := parseNetFile(t)
	require.Len(t, f.Networks, 2)
	assert.Equal(t, Network{Name: "app", Driver: "overlay", Attachable: true, Line: 7}, f.Networks[0], "overlay and attachable unless the file says otherwise")
	assert.Equal(t, Network{Name: "db", Driver: "overlay", Internal: true,
		Subnet: netip.MustParsePrefix("10.231.0.0/24"), Gateway: netip.MustParseAddr("10.231.0.254"), IPRange: netip.MustParsePrefix("10.231.0.128/25"),
		Options: map[string]string{"encrypted": "", "com.docker.network.driver.mtu": "1400"}, Labels: map[string]string{"tier": "db"}, Line: 8}, f.Networks[1])
	assert.Equal(t, "overlay, internal, 10.231.0.0/24", f.Networks[1].String())

	spec := f.Networks[1].Spec("c")
	assert.Equal(t, swarm.NetworkSpec{Name: "db", Driver: "overlay", Internal: true, Subnet: "10.231.0.0/24", Gateway: "10.231.0.254", IPRange: "10.231.0.128/25",
		Options: map[string]string{"encrypted": "", "com.docker.network.driver.mtu": "1400"}, Labels: map[string]string{"tier": "db", ClusterLabel: "c"}}, spec)
	assert.NotContains(t, f.Networks[1].Labels, ClusterLabel, "the spec's marker does not leak into the parsed file")

	assert.Equal(t, []string{
		"network app (overlay, attachable): create it through the swarm's manager unless the swarm has it",
		"network db (overlay, internal, 10.231.0.0/24): create it through the swarm's manager unless the swarm has it",
	}, f.DescribeNetworks())
}

func TestParseNetworkErrorsNameTheLine(t *testing.T) {
	const head = "name: x\ndriver: none\ngroups:\n  - {name: m, role: manager}\nnetworks:\n"
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"not a list", "networks: app\n", []string{"c.yml:5: networks must be a list (- name: app)"}},
		{"no name", "  - subnet: 10.0.9.0/24\n", []string{"c.yml:6: networks[0]: name is missing"}},
		{"bad name", "  - name: my net\n", []string{`c.yml:6: networks[0]: name "my net": use letters, digits`}},
		{"duplicate", "  - name: app\n  - name: web\n  - name: app\n", []string{`c.yml:8: network "app" is declared twice (first on line 6)`}},
		{"ingress", "  - name: ingress\n", []string{`c.yml:6: networks[0]: name "ingress" is reserved by Docker`}},
		{"bridge", "  - name: bridge\n", []string{`name "bridge" is reserved by Docker`}},
		{"host", "  - name: host\n", []string{`name "host" is reserved by Docker`}},
		{"none", "  - name: none\n", []string{`name "none" is reserved by Docker`}},
		{"docker_gwbridge", "  - name: docker_gwbridge\n", []string{`name "docker_gwbridge" is reserved by Docker`}},
		{"local driver", "  - name: app\n    driver: bridge\n", []string{"c.yml:7: networks[0]: driver bridge makes a network on one node only", "use overlay"}},
		{"empty driver", "  - name: app\n    driver: \"\"\n", []string{"c.yml:7: networks[0]: driver is empty"}},
		{"unknown key", "  - name: app\n    scope: swarm\n", []string{`c.yml:7: networks[0]: unknown key "scope"`}},
		{"attachable not a bool", "  - name: app\n    attachable: maybe\n", []string{`c.yml:7: networks[0].attachable must be true or false, not "maybe"`}},
		{"subnet not a network address", "  - name: app\n    subnet: 10.0.9.1/24\n", []string{"c.yml:7: networks[0].subnet 10.0.9.1/24 is not a network address: did you mean 10.0.9.0/24?"}},
		{"subnet not a prefix", "  - name: app\n    subnet: 10.0.9.0\n", []string{`c.yml:7: networks[0].subnet "10.0.9.0" is not an IPv4 network such as 10.0.9.0/24`}},
		{"subnet IPv6", "  - name: app\n    subnet: fd00::/64\n", []string{`networks[0].subnet "fd00::/64" is not an IPv4 network`}},
		{"gateway without subnet", "  - name: app\n    gateway: 10.0.9.1\n", []string{"c.yml:6: networks[0]: gateway and ip_range need a subnet"}},
		{"gateway outside", "  - name: app\n    subnet: 10.0.9.0/24\n    gateway: 10.0.8.1\n", []string{"c.yml:8: networks[0].gateway 10.0.8.1 is not a host address of subnet 10.0.9.0/24"}},
		{"gateway is the network", "  - name: app\n    subnet: 10.0.9.0/24\n    gateway: 10.0.9.0\n", []string{"networks[0].gateway 10.0.9.0 is not a host address"}},
		{"gateway not an address", "  - name: app\n    subnet: 10.0.9.0/24\n    gateway: gw\n", []string{`c.yml:8: networks[0].gateway "gw" is not an IPv4 address`}},
		{"ip_range outside", "  - name: app\n    subnet: 10.0.9.0/24\n    ip_range: 10.0.0.0/16\n", []string{"c.yml:8: networks[0].ip_range 10.0.0.0/16 does not lie within subnet 10.0.9.0/24"}},
		{"overlapping subnets", "  - {name: a, subnet: 10.0.0.0/16}\n  - {name: b, subnet: 10.0.9.0/24}\n", []string{`c.yml:7: network "b": subnet 10.0.9.0/24 overlaps subnet 10.0.0.0/16 of network "a" (line 6)`}},
		{"marker label", "  - name: app\n    labels: {fleetdock.cluster: other}\n", []string{"c.yml:6: networks[0]: label fleetdock.cluster is set by cluster up"}},
		{"options not a map", "  - name: app\n    options: [encrypted]\n", []string{"c.yml:7: networks[0].options must be a mapping of name: value"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text := head + tc.yaml
			if strings.HasPrefix(tc.yaml, "networks:") {
				text = strings.TrimSuffix(head, "networks:\n") + tc.yaml
			}
			_, err := Parse("c.yml", []byte(text), env(nil))
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			var pe *ParseError
			assert.True(t, errors.As(err, &pe), "a ParseError carries the line: %v", err)
		})
	}
}

func TestUpCreatesTheNetworksOnceThroughTheLeader(t *testing.T) {
	ctx := context.Background()
	f := parseNetFile(t)
	m, sw := newFakeMachines(), newFakeSwarm()
	var lines []string
	res := Up(ctx, f, m, sw, Options{LoadBalancers: slbs(nil), Progress: func(e Event) {
		if e.Node == "" {
			lines = append(lines, e.Line)
		}
	}})
	require.NoError(t, res.Err())
	assert.Equal(t, []NetworkReport{{Name: "app", ID: "net1", Action: NetworkCreated}, {Name: "db", ID: "net2", Action: NetworkCreated}}, res.Networks)
	assert.Equal(t, []string{"list via c-manager-1", "create app via c-manager-1", "create db via c-manager-1"}, sw.netCalls)
	assert.Contains(t, lines, "network app: created (net1)")
	assert.Contains(t, lines, "network db: created (net2)")
	app, err := sw.Network(ctx, "c-manager-1", "app")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{ClusterLabel: "c"}, app.Labels, "what up made carries the cluster's name")
	assert.True(t, app.Attachable)

	// Again: both are there as the file says, so both are kept.
	sw.netCalls = nil
	again := Up(ctx, f, m, sw, Options{LoadBalancers: slbs(nil)})
	require.NoError(t, again.Err())
	assert.Equal(t, []NetworkReport{{Name: "app", ID: "net1", Action: NetworkKept}, {Name: "db", ID: "net2", Action: NetworkKept}}, again.Networks)
	assert.Equal(t, []string{"list via c-manager-1"}, sw.netCalls, "nothing is created twice")
}

func TestUpKeepsAMatchingNetworkMadeByHand(t *testing.T) {
	f := parseNetFile(t)
	sw := newFakeSwarm()
	sw.nets = []swarm.Network{
		{ID: "hand", Name: "app", Driver: "overlay", Scope: "swarm", Attachable: true, IPAM: []swarm.IPAMConfig{{Subnet: "10.0.1.0/24"}}, Options: map[string]string{"com.docker.network.driver.overlay.vxlanid_list": "4097"}},
		{ID: "ing", Name: "ingress", Driver: "overlay", Scope: "swarm", Ingress: true, IPAM: []swarm.IPAMConfig{{Subnet: "10.0.0.0/24"}}},
	}
	res := Up(context.Background(), f, newFakeMachines(), sw, Options{LoadBalancers: slbs(nil)})
	require.NoError(t, res.Err())
	assert.Equal(t, []NetworkReport{{Name: "app", ID: "hand", Action: NetworkKept}, {Name: "db", ID: "net1", Action: NetworkCreated}}, res.Networks,
		"a network the file leaves the subnet of is kept whatever pool it has; labels the swarm adds do not matter")
}

func TestUpRefusesANetworkThatDiffers(t *testing.T) {
	cases := []struct {
		name string
		have swarm.Network
		want []string
	}{
		{"driver", swarm.Network{ID: "x", Name: "db", Driver: "bridge", Scope: "local", Internal: true, IPAM: []swarm.IPAMConfig{{Subnet: "10.231.0.0/24", Gateway: "10.231.0.254", IPRange: "10.231.0.128/25"}},
			Options: map[string]string{"encrypted": "", "com.docker.network.driver.mtu": "1400"}, Labels: map[string]string{"tier": "db"}},
			[]string{"driver bridge (scope local), the file says overlay"}},
		{"subnet and gateway", swarm.Network{ID: "x", Name: "db", Driver: "overlay", Scope: "swarm", Internal: true, IPAM: []swarm.IPAMConfig{{Subnet: "10.9.0.0/24", Gateway: "10.9.0.1"}},
			Options: map[string]string{"encrypted": "", "com.docker.network.driver.mtu": "1400"}, Labels: map[string]string{"tier": "db"}},
			[]string{"subnet is 10.9.0.0/24, the file says 10.231.0.0/24", "gateway is 10.9.0.1, the file says 10.231.0.254", "ip_range is none, the file says 10.231.0.128/25"}},
		{"flags, options and labels", swarm.Network{ID: "x", Name: "db", Driver: "overlay", Scope: "swarm", Attachable: true, IPAM: []swarm.IPAMConfig{{Subnet: "10.231.0.0/24", Gateway: "10.231.0.254", IPRange: "10.231.0.128/25"}},
			Options: map[string]string{"com.docker.network.driver.mtu": "1500"}},
			[]string{"attachable is true, the file says false", "internal is false, the file says true", `option com.docker.network.driver.mtu is "1500", the file says "1400"`, `option encrypted is not set, the file says ""`, `label tier is not set, the file says "db"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := parseNetFile(t)
			sw := newFakeSwarm()
			sw.nets = []swarm.Network{tc.have}
			res := Up(context.Background(), f, newFakeMachines(), sw, Options{LoadBalancers: slbs(nil)})
			err := res.Err()
			require.Error(t, err)
			assert.ErrorContains(t, err, "network db: the existing network x differs from the file: ")
			for _, w := range tc.want {
				assert.ErrorContains(t, err, w)
			}
			assert.ErrorContains(t, err, "remove it with `docker network rm db` through c-manager-1 (after removing the services and containers that use it) and run `cluster up` again, or change the file to match")
			assert.Equal(t, NetworkFailed, res.Networks[1].Action)
			assert.Equal(t, NetworkCreated, res.Networks[0].Action, "the other network is still made")
			assert.Equal(t, []string{"db", "app"}, sw.names(), "the differing network is left as it is")
			assert.Empty(t, res.Failed, "no node is blamed for a network")
		})
	}
}

func TestUpRefusesASubnetTheSwarmAlreadyUses(t *testing.T) {
	f := parseNetFile(t)
	sw := newFakeSwarm()
	sw.nets = []swarm.Network{{ID: "o", Name: "other", Driver: "overlay", Scope: "swarm", IPAM: []swarm.IPAMConfig{{Subnet: "10.231.0.0/16"}}}}
	res := Up(context.Background(), f, newFakeMachines(), sw, Options{LoadBalancers: slbs(nil)})
	assert.ErrorContains(t, res.Err(), "network db: subnet 10.231.0.0/24 overlaps subnet 10.231.0.0/16 of network other (overlay, swarm scope) on c-manager-1; choose a subnet that does not")
	assert.NotContains(t, sw.netCalls, "create db via c-manager-1", "nothing the allocator would refuse is created")
}

func TestUpRemovesANetworkTheSwarmDoesNotAllocate(t *testing.T) {
	defer func(d time.Duration) { networkAllocateTimeout = d }(networkAllocateTimeout)
	networkAllocateTimeout = 300 * time.Millisecond
	f := parseNetFile(t)
	sw := newFakeSwarm()
	sw.refuse = map[string]bool{"app": true}
	res := Up(context.Background(), f, newFakeMachines(), sw, Options{LoadBalancers: slbs(nil)})
	err := res.Err()
	assert.ErrorContains(t, err, "network app: waiting for the swarm to allocate network app: timed out")
	assert.ErrorContains(t, err, "it was removed again: check that its subnet overlaps no other network")
	assert.Contains(t, sw.netCalls, "remove net1 via c-manager-1")
	assert.Equal(t, []string{"db"}, sw.names(), "the unusable network is not left behind")

	// One that exists unallocated (made by hand, say) is named as such.
	sw = newFakeSwarm()
	sw.nets = []swarm.Network{{ID: "bad", Name: "app", Scope: "swarm"}}
	res = Up(context.Background(), f, newFakeMachines(), sw, Options{LoadBalancers: slbs(nil)})
	assert.ErrorContains(t, res.Err(), "network app: it exists on the swarm (bad) but the managers never allocated it")
}

func TestUpReportsNetworkFailuresWithoutFailingNodes(t *testing.T) {
	f := parseNetFile(t)
	sw := newFakeSwarm()
	sw.listErr = errors.New("connection refused")
	res := Up(context.Background(), f, newFakeMachines(), sw, Options{LoadBalancers: slbs(nil)})
	assert.ErrorContains(t, res.Err(), "reading the networks of the swarm through c-manager-1: connection refused")
	assert.Len(t, res.Joined, 3, "the swarm is formed all the same")
	assert.Empty(t, res.Failed)

	sw = newFakeSwarm()
	sw.createErr = errors.New(`plugin "weave" not found`)
	res = Up(context.Background(), f, newFakeMachines(), sw, Options{LoadBalancers: slbs(nil)})
	assert.ErrorContains(t, res.Err(), `network app: plugin "weave" not found`)
	assert.ErrorContains(t, res.Err(), `network db: plugin "weave" not found`)
}

func TestUpWithoutNetworksAsksNothing(t *testing.T) {
	sw := newFakeSwarm()
	res := Up(context.Background(), parseUp(t), newFakeMachines(), sw, Options{LoadBalancers: slbs(map[string]*fakeSLB{"lb-ctrl": newFakeSLB(), "lb-work": newFakeSLB()})})
	require.NoError(t, res.Err())
	assert.Empty(t, sw.netCalls)
	assert.Empty(t, res.Networks)
}

// racingNetworks makes the network the file wants between the list and the
// create, as a second `cluster up` at the same time would.
type racingNetworks struct {
	*fakeNetworks
	made swarm.Network
}

func (r racingNetworks) Networks(ctx context.Context, manager string) ([]swarm.Network, error) {
	list, err := r.fakeNetworks.Networks(ctx, manager)
	r.netMu.Lock()
	r.nets = append(r.nets, r.made)
	r.netMu.Unlock()
	return list, err
}

func TestEnsureNetworksJudgesOneMadeMeanwhile(t *testing.T) {
	f, err := Parse("c.yml", []byte("name: c\ndriver: none\ngroups:\n  - {name: m, role: manager}\nnetworks:\n  - name: app\n"), env(nil))
	require.NoError(t, err)
	var lines []string
	same := racingNetworks{&fakeNetworks{}, swarm.Network{ID: "other", Name: "app", Driver: "overlay", Scope: "swarm", Attachable: true}}
	reps, err := EnsureNetworks(context.Background(), same, "c-m-1", f, func(l string) { lines = append(lines, l) })
	require.NoError(t, err)
	assert.Equal(t, []NetworkReport{{Name: "app", ID: "other", Action: NetworkKept}}, reps)
	assert.Equal(t, []string{"network app: kept (other)"}, lines)

	differs := racingNetworks{&fakeNetworks{}, swarm.Network{ID: "other", Name: "app", Driver: "overlay", Scope: "swarm"}}
	_, err = EnsureNetworks(context.Background(), differs, "c-m-1", f, func(string) {})
	assert.ErrorContains(t, err, "network app: the existing network other differs from the file: attachable is false, the file says true")
}

func TestStatusShowsTheNetworks(t *testing.T) {
	ctx := context.Background()
	f := parseNetFile(t)
	m, sw := newFakeMachines(), newFakeSwarm()
	require.NoError(t, Up(ctx, f, m, sw, Options{LoadBalancers: slbs(nil)}).Err())
	st, err := GetStatus(ctx, f, m, sw, Options{LoadBalancers: slbs(nil)})
	require.NoError(t, err)
	assert.Equal(t, []NetworkStatus{
		{Name: "app", Want: "overlay, attachable", ID: "net1", State: "ok"},
		{Name: "db", Want: "overlay, internal, 10.231.0.0/24", ID: "net2", State: "ok"},
	}, st.Networks)

	require.NoError(t, sw.RemoveNetwork(ctx, "c-manager-1", "net1"))
	sw.nets[0].Internal = false
	st, err = GetStatus(ctx, f, m, sw, Options{LoadBalancers: slbs(nil)})
	require.NoError(t, err)
	require.Len(t, st.Networks, 2)
	assert.Equal(t, "missing (cluster up creates it)", st.Networks[0].State)
	assert.Contains(t, st.Networks[1].State, "differs from the file: internal is false, the file says true")

	sw.listErr = errors.New("connection refused")
	st, err = GetStatus(ctx, f, m, sw, Options{LoadBalancers: slbs(nil)})
	require.NoError(t, err)
	assert.Equal(t, "unknown: connection refused", st.Networks[0].State)
}

func TestEnsureNetworksInterruptedWhileWaitingRemovesTheNetwork(t *testing.T) {
	f, err := Parse("c.yml", []byte("name: c\ndriver: none\ngroups:\n  - {name: m, role: manager}\nnetworks:\n  - name: app\n"), env(nil))
	require.NoError(t, err)
	nets := &fakeNetworks{refuse: map[string]bool{"app": true}}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err = EnsureNetworks(ctx, nets, "c-m-1", f, func(string) {})
	assert.ErrorContains(t, err, "waiting for the swarm to allocate network app: stopped after")
	assert.ErrorContains(t, err, "the network was removed again")
	assert.Contains(t, nets.netCalls, "remove net1 via c-m-1", "the removal runs on the cleanup context")
	assert.Empty(t, nets.names())
}
