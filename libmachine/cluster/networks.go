package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/fleetdock/machine/libmachine/capability"
	"github.com/fleetdock/machine/libmachine/poll"
	"github.com/fleetdock/machine/libmachine/swarm"
)

// Network is a swarm network the cluster file declares; `cluster up`
// creates it through the swarm's manager when the swarm lacks it.
type Network struct {
	Name string
	// Driver is overlay unless set.
	Driver string
	// Attachable lets standalone containers (docker run --network) join
	// it, not only services; true unless set false.
	Attachable bool
	// Internal cuts the network off from the outside world.
	Internal bool
	// Subnet, Gateway and IPRange fix the address pool (IPv4); without a
	// subnet the swarm picks one.
	Subnet  netip.Prefix
	Gateway netip.Addr
	IPRange netip.Prefix
	// Options are the driver options (docker network create --opt), such
	// as encrypted or com.docker.network.driver.mtu.
	Options map[string]string
	Labels  map[string]string
	Line    int
}

// ClusterLabel marks the networks `cluster up` created with the cluster's
// name, so `docker network ls --filter label=fleetdock.cluster` finds them.
const ClusterLabel = "fleetdock.cluster"

// SwarmNetworks is the part of Swarm that keeps the file's networks, by
// the manager machine it goes through.
type SwarmNetworks interface {
	Networks(ctx context.Context, manager string) ([]swarm.Network, error)
	Network(ctx context.Context, manager, id string) (swarm.Network, error)
	CreateNetwork(ctx context.Context, manager string, spec swarm.NetworkSpec) (string, error)
	RemoveNetwork(ctx context.Context, manager, id string) error
}

// networkName is what Docker accepts as a network name.
var networkName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// reservedNetworks are names Docker keeps for its own networks: the
// predefined ones every daemon has, the swarm's routing mesh, and the
// bridge that connects overlay containers to the outside.
var reservedNetworks = []string{"bridge", "host", "none", "default", "ingress", "docker_gwbridge"}

// localDrivers make networks that exist on one daemon only; a cluster
// network has to span the swarm.
var localDrivers = []string{"bridge", "host", "null", "none", "macvlan", "ipvlan"}

func (p *parser) networks(n *yaml.Node, what string) []Network {
	nets := items(p, n, what, "(- name: app)", func(nn *yaml.Node, what string) (Network, bool) {
		nw := Network{Driver: "overlay", Attachable: true, Line: nn.Line}
		var nameNode, driverNode, subnetNode, gatewayNode, rangeNode *yaml.Node
		var subnet, gateway, ipRange string
		p.fields(nn, what, []field{
			{"name", func(v *yaml.Node, path string) { nameNode, nw.Name = v, p.str(v, path) }},
			{"driver", func(v *yaml.Node, path string) { driverNode, nw.Driver = v, p.str(v, path) }},
			{"attachable", func(v *yaml.Node, path string) { nw.Attachable = p.boolean(v, path) }},
			{"internal", func(v *yaml.Node, path string) { nw.Internal = p.boolean(v, path) }},
			{"subnet", func(v *yaml.Node, path string) { subnetNode, subnet = v, p.str(v, path) }},
			{"gateway", func(v *yaml.Node, path string) { gatewayNode, gateway = v, p.str(v, path) }},
			{"ip_range", func(v *yaml.Node, path string) { rangeNode, ipRange = v, p.str(v, path) }},
			{"options", func(v *yaml.Node, path string) { nw.Options = p.stringMap(v, path) }},
			{"labels", func(v *yaml.Node, path string) { nw.Labels = p.stringMap(v, path) }},
		})
		if nn.Kind != yaml.MappingNode {
			return nw, false
		}
		switch {
		case nameNode == nil:
			p.fail(nn, "%s: name is missing", what)
		case !networkName.MatchString(nw.Name):
			p.fail(nameNode, "%s: name %q: use letters, digits, '_', '.' and '-', starting with a letter or digit", what, nw.Name)
		case slices.Contains(reservedNetworks, nw.Name):
			p.fail(nameNode, "%s: name %q is reserved by Docker for its own network; choose another name", what, nw.Name)
		}
		switch {
		case nw.Driver == "":
			p.fail(driverNode, "%s: driver is empty; leave it out for overlay", what)
		case slices.Contains(localDrivers, nw.Driver):
			p.fail(driverNode, "%s: driver %s makes a network on one node only; a cluster network spans the swarm: use overlay (the default) or a swarm-scoped network plugin", what, nw.Driver)
		}
		if _, ok := nw.Labels[ClusterLabel]; ok {
			p.fail(nn, "%s: label %s is set by cluster up (to the cluster's name); remove it", what, ClusterLabel)
		}
		nw.Subnet = p.prefix(subnetNode, subnet, what+".subnet")
		nw.IPRange = p.prefix(rangeNode, ipRange, what+".ip_range")
		if gatewayNode != nil {
			a, err := netip.ParseAddr(gateway)
			if err != nil || !a.Is4() {
				p.fail(gatewayNode, "%s.gateway %q is not an IPv4 address", what, gateway)
			} else {
				nw.Gateway = a
			}
		}
		switch s := nw.Subnet; {
		case !s.IsValid() && (gatewayNode != nil || rangeNode != nil):
			p.fail(nn, "%s: gateway and ip_range need a subnet to lie in; add subnet", what)
		case !s.IsValid():
		case nw.Gateway.IsValid() && (!s.Contains(nw.Gateway) || nw.Gateway == s.Addr()):
			p.fail(gatewayNode, "%s.gateway %s is not a host address of subnet %s", what, nw.Gateway, s)
		case nw.IPRange.IsValid() && (!s.Contains(nw.IPRange.Addr()) || nw.IPRange.Bits() < s.Bits()):
			p.fail(rangeNode, "%s.ip_range %s does not lie within subnet %s", what, nw.IPRange, s)
		}
		return nw, true
	})
	seen := map[string]int{}
	for i, nw := range nets {
		if line, ok := seen[nw.Name]; ok && nw.Name != "" {
			p.fail(&yaml.Node{Line: nw.Line}, "network %q is declared twice (first on line %d)", nw.Name, line)
		}
		seen[nw.Name] = nw.Line
		for _, other := range nets[:i] {
			if nw.Subnet.IsValid() && other.Subnet.IsValid() && nw.Subnet.Overlaps(other.Subnet) {
				p.fail(&yaml.Node{Line: nw.Line}, "network %q: subnet %s overlaps subnet %s of network %q (line %d); the swarm would refuse one of them", nw.Name, nw.Subnet, other.Subnet, other.Name, other.Line)
			}
		}
	}
	return nets
}

// prefix parses an IPv4 network address such as 10.0.9.0/24; n is nil
// when the key was not given.
func (p *parser) prefix(n *yaml.Node, s, what string) netip.Prefix {
	if n == nil {
		return netip.Prefix{}
	}
	pf, err := netip.ParsePrefix(s)
	switch {
	case err != nil || !pf.Addr().Is4():
		p.fail(n, "%s %q is not an IPv4 network such as 10.0.9.0/24", what, s)
		return netip.Prefix{}
	case pf.Masked() != pf:
		p.fail(n, "%s %s is not a network address: did you mean %s?", what, s, pf.Masked())
		return netip.Prefix{}
	}
	return pf
}

// stringMap parses a mapping of names to single values; a key without a
// value (encrypted:) is an empty value, as `--opt encrypted` gives.
func (p *parser) stringMap(n *yaml.Node, what string) map[string]string {
	if n.Kind != yaml.MappingNode {
		p.fail(n, "%s must be a mapping of name: value", what)
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := p.str(k, what)
		if key == "" {
			p.fail(k, "%s: empty name", what)
			continue
		}
		if _, dup := out[key]; dup {
			p.fail(k, "%s: %q is given twice", what, key)
			continue
		}
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			out[key] = ""
			continue
		}
		out[key] = p.str(v, what+"."+key)
	}
	return out
}

// Spec is what `docker network create` gets for the network of cluster.
func (nw Network) Spec(cluster string) swarm.NetworkSpec {
	s := swarm.NetworkSpec{Name: nw.Name, Driver: nw.Driver, Attachable: nw.Attachable, Internal: nw.Internal,
		Options: maps.Clone(nw.Options), Labels: maps.Clone(nw.Labels)}
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	s.Labels[ClusterLabel] = cluster
	if nw.Subnet.IsValid() {
		s.Subnet = nw.Subnet.String()
	}
	if nw.Gateway.IsValid() {
		s.Gateway = nw.Gateway.String()
	}
	if nw.IPRange.IsValid() {
		s.IPRange = nw.IPRange.String()
	}
	return s
}

// String describes the network as the file wants it: "overlay, attachable,
// 10.0.9.0/24".
func (nw Network) String() string {
	parts := []string{nw.Driver}
	if nw.Attachable {
		parts = append(parts, "attachable")
	}
	if nw.Internal {
		parts = append(parts, "internal")
	}
	if nw.Subnet.IsValid() {
		parts = append(parts, nw.Subnet.String())
	}
	return strings.Join(parts, ", ")
}

// NetworkAction is what up did about one network.
type NetworkAction string

const (
	NetworkCreated NetworkAction = "created"
	NetworkKept    NetworkAction = "kept"
	NetworkFailed  NetworkAction = "failed"
)

// NetworkReport is the outcome for one network of the file.
type NetworkReport struct {
	Name   string
	ID     string
	Action NetworkAction
	Err    error
}

// String is the progress line of the report.
func (r NetworkReport) String() string {
	if r.Action == NetworkFailed {
		return fmt.Sprintf("network %s: failed: %v", r.Name, r.Err)
	}
	return fmt.Sprintf("network %s: %s (%s)", r.Name, r.Action, r.ID)
}

// networkAllocateTimeout bounds the wait for the managers to allocate a
// network just created; it takes milliseconds when it works at all.
var networkAllocateTimeout = 15 * time.Second

// EnsureNetworks makes the swarm have every network of f, through the
// manager: a missing one is created, an existing one that matches what
// the file says is kept, and one that differs is an error saying how, since
// Docker cannot change a network in place. Each network is reported on
// line as it is done; one failing does not stop the others.
func EnsureNetworks(ctx context.Context, sw SwarmNetworks, manager string, f *File, line func(string)) ([]NetworkReport, error) {
	if len(f.Networks) == 0 {
		return nil, nil
	}
	existing, err := sw.Networks(ctx, manager)
	if err != nil {
		err = fmt.Errorf("reading the networks of the swarm through %s: %w", manager, err)
		line(err.Error())
		return nil, err
	}
	var reports []NetworkReport
	var errs []error
	for _, nw := range f.Networks {
		rep := ensureNetwork(ctx, sw, manager, f, nw, existing)
		if rep.Err != nil {
			errs = append(errs, fmt.Errorf("network %s: %w", nw.Name, rep.Err))
		}
		reports = append(reports, rep)
		line(rep.String())
	}
	return reports, errors.Join(errs...)
}

func ensureNetwork(ctx context.Context, sw SwarmNetworks, manager string, f *File, nw Network, existing []swarm.Network) NetworkReport {
	rep := NetworkReport{Name: nw.Name, Action: NetworkFailed}
	if i := slices.IndexFunc(existing, func(e swarm.Network) bool { return e.Name == nw.Name }); i >= 0 {
		return keepExisting(nw, existing[i], manager)
	}
	if nw.Subnet.IsValid() {
		for _, e := range existing {
			for _, pool := range e.IPAM {
				if p, err := netip.ParsePrefix(pool.Subnet); err == nil && p.Overlaps(nw.Subnet) {
					rep.Err = fmt.Errorf("subnet %s overlaps subnet %s of network %s (%s, %s scope) on %s; choose a subnet that does not", nw.Subnet, p, e.Name, e.Driver, e.Scope, manager)
					return rep
				}
			}
		}
	}
	id, err := sw.CreateNetwork(ctx, manager, nw.Spec(f.Name))
	if swarm.IsConflict(err) {
		// Made since the list was read (another up, say): judge that one.
		if have, ierr := sw.Network(ctx, manager, nw.Name); ierr == nil && have.Name == nw.Name {
			return keepExisting(nw, have, manager)
		}
	}
	if err != nil {
		rep.Err = err
		return rep
	}
	rep.ID = id
	// The create only records the network; the managers' allocator can
	// still refuse its pool, and then it is unusable: wait for the driver,
	// or take it away again.
	err = poll.Until(ctx, poll.Options{What: "the swarm to allocate network " + nw.Name, Timeout: networkAllocateTimeout, Initial: 50 * time.Millisecond, Max: time.Second}, func(ctx context.Context) (bool, error) {
		got, err := sw.Network(ctx, manager, id)
		if err != nil {
			return false, err
		}
		if !got.Allocated() {
			return false, poll.NotYet("not allocated")
		}
		return true, nil
	})
	if err != nil {
		rmErr := sw.RemoveNetwork(capability.CleanupContext(ctx), manager, id)
		switch {
		case rmErr != nil:
			rep.Err = fmt.Errorf("%w; removing the network again failed too: %v: remove it with `docker network rm %s` through %s", err, rmErr, nw.Name, manager)
		case ctx.Err() != nil:
			rep.Err = fmt.Errorf("%w; the network was removed again", err)
		default:
			rep.Err = fmt.Errorf("%w; it was removed again: check that its subnet overlaps no other network and run `cluster up` again", err)
		}
		return rep
	}
	rep.Action = NetworkCreated
	return rep
}

// keepExisting keeps a network of the swarm that is as the file says it,
// and refuses one that is not.
func keepExisting(nw Network, have swarm.Network, manager string) NetworkReport {
	rep := NetworkReport{Name: nw.Name, ID: have.ID, Action: NetworkFailed}
	if !have.Allocated() {
		rep.Err = fmt.Errorf("it exists on the swarm (%s) but the managers never allocated it (its subnet probably overlaps another network's); remove it with `docker network rm %s` through %s and run `cluster up` again", have.ID, nw.Name, manager)
		return rep
	}
	if diffs := networkDiffs(nw, have); len(diffs) > 0 {
		rep.Err = fmt.Errorf("the existing network %s differs from the file: %s; Docker cannot change a network in place: remove it with `docker network rm %s` through %s (after removing the services and containers that use it) and run `cluster up` again, or change the file to match", have.ID, strings.Join(diffs, "; "), nw.Name, manager)
		return rep
	}
	rep.Action = NetworkKept
	return rep
}

// networkDiffs lists how an existing network differs from the file's:
// driver, flags and what the file sets of pools, options and labels.
// Pools, options and labels the file leaves out are not compared (the
// swarm adds its own, such as the VXLAN ID).
func networkDiffs(want Network, have swarm.Network) []string {
	var out []string
	if have.Driver != want.Driver {
		out = append(out, fmt.Sprintf("driver %s (scope %s), the file says %s", have.Driver, have.Scope, want.Driver))
	}
	if have.Attachable != want.Attachable {
		out = append(out, fmt.Sprintf("attachable is %t, the file says %t", have.Attachable, want.Attachable))
	}
	if have.Internal != want.Internal {
		out = append(out, fmt.Sprintf("internal is %t, the file says %t", have.Internal, want.Internal))
	}
	var pool swarm.IPAMConfig
	if len(have.IPAM) > 0 {
		pool = have.IPAM[0]
	}
	for _, c := range []struct {
		what       string
		want, have string
		set        bool
	}{
		{"subnet", want.Subnet.String(), pool.Subnet, want.Subnet.IsValid()},
		{"gateway", want.Gateway.String(), pool.Gateway, want.Gateway.IsValid()},
		{"ip_range", want.IPRange.String(), pool.IPRange, want.IPRange.IsValid()},
	} {
		if c.set && c.want != c.have {
			out = append(out, fmt.Sprintf("%s is %s, the file says %s", c.what, orNone(c.have), c.want))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(want.Options)) {
		if v, ok := have.Options[k]; !ok || v != want.Options[k] {
			out = append(out, fmt.Sprintf("option %s is %s, the file says %q", k, present(v, ok), want.Options[k]))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(want.Labels)) {
		if v, ok := have.Labels[k]; !ok || v != want.Labels[k] {
			out = append(out, fmt.Sprintf("label %s is %s, the file says %q", k, present(v, ok), want.Labels[k]))
		}
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func present(v string, ok bool) string {
	if !ok {
		return "not set"
	}
	return fmt.Sprintf("%q", v)
}

// ensureNetworks is up's step for the file's networks, once the swarm
// runs through leader.
func (r *runner) ensureNetworks(ctx context.Context, leader string) {
	reports, err := EnsureNetworks(ctx, r.sw, leader, r.f, func(line string) { r.emit(Event{Line: line}) })
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.Networks = append(r.res.Networks, reports...)
	if err != nil {
		r.res.Errs = append(r.res.Errs, err)
	}
}

// DescribeNetworks is what up would do about the networks, for --dry-run.
func (f *File) DescribeNetworks() []string {
	var out []string
	for _, nw := range f.Networks {
		out = append(out, fmt.Sprintf("network %s (%s): create it through the swarm's manager unless the swarm has it", nw.Name, nw))
	}
	return out
}

// NetworkStatus is one network of the file in `cluster status`.
type NetworkStatus struct {
	Name string
	// Want describes the network as the file says it.
	Want string
	// ID is set when the swarm has a network of that name.
	ID string
	// State is "ok", "missing", or what is wrong with it.
	State string
}

// networkStatuses reads the file's networks through manager; without a
// manager, or when it does not answer, each network says so.
func networkStatuses(ctx context.Context, sw SwarmNetworks, manager string, f *File) []NetworkStatus {
	if len(f.Networks) == 0 {
		return nil
	}
	var existing []swarm.Network
	var readErr error
	if manager == "" {
		readErr = errors.New("no manager answered")
	} else {
		existing, readErr = sw.Networks(ctx, manager)
	}
	out := make([]NetworkStatus, 0, len(f.Networks))
	for _, nw := range f.Networks {
		st := NetworkStatus{Name: nw.Name, Want: nw.String()}
		i := slices.IndexFunc(existing, func(e swarm.Network) bool { return e.Name == nw.Name })
		switch {
		case readErr != nil:
			st.State = "unknown: " + readErr.Error()
		case i < 0:
			st.State = "missing (cluster up creates it)"
		default:
			rep := keepExisting(nw, existing[i], manager)
			st.ID, st.State = rep.ID, "ok"
			if rep.Err != nil {
				st.State = rep.Err.Error()
			}
		}
		out = append(out, st)
	}
	return out
}
