package swarm

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"

	"github.com/fleetdock/machine/libmachine/poll"
)

// Member is a machine taking part in a swarm.
type Member struct {
	// Name is the machine name, used in messages and results.
	Name   string
	Engine *Engine
	// AdvertiseAddr is the IP the node gives the other nodes to reach it
	// (libmachine's Client.SwarmAddress picks the machine's private
	// address). Init and join need it; listing uses it to name nodes.
	AdvertiseAddr string
}

// Action is what an operation did to a node.
type Action string

const (
	ActionInitialized Action = "initialized"
	ActionJoined      Action = "joined"
	ActionPromoted    Action = "promoted"
	ActionDemoted     Action = "demoted"
	ActionLeft        Action = "left"
	ActionUnchanged   Action = "unchanged"
	ActionFailed      Action = "failed"
)

// Result is the outcome of an operation on one node.
type Result struct {
	Machine   string
	NodeID    string
	ClusterID string
	Role      Role
	Action    Action
	// Err is set when Action is ActionFailed (JoinAll reports failures
	// this way; the single-node functions also return it).
	Err error
}

// String is the per-node line the CLI prints.
func (r Result) String() string {
	switch r.Action {
	case ActionInitialized:
		return fmt.Sprintf("%s: initialised swarm %s; it is its first manager (node %s)", r.Machine, r.ClusterID, r.NodeID)
	case ActionJoined:
		return fmt.Sprintf("%s: joined as %s (node %s)", r.Machine, r.Role, r.NodeID)
	case ActionPromoted:
		return fmt.Sprintf("%s: promoted to manager (node %s)", r.Machine, r.NodeID)
	case ActionDemoted:
		return fmt.Sprintf("%s: demoted to worker (node %s)", r.Machine, r.NodeID)
	case ActionLeft:
		return fmt.Sprintf("%s: left the swarm", r.Machine)
	case ActionUnchanged:
		if r.Role == "" {
			return fmt.Sprintf("%s: not in a swarm; nothing to do", r.Machine)
		}
		return fmt.Sprintf("%s: already a %s of swarm %s; nothing to do", r.Machine, r.Role, r.ClusterID)
	default:
		return fmt.Sprintf("%s: failed: %v", r.Machine, r.Err)
	}
}

func failed(machine string, err error) (Result, error) {
	return Result{Machine: machine, Action: ActionFailed, Err: err}, err
}

// OtherSwarmError says a machine already belongs to a different swarm than
// the one it is asked to be part of.
type OtherSwarmError struct {
	Machine string
	// Other names the swarm the machine is in: its cluster ID when the
	// machine is a manager there, else the managers it knows.
	Other string
	// Manager and ClusterID are the swarm it was asked to join.
	Manager   string
	ClusterID string
}

func (e *OtherSwarmError) Error() string {
	return fmt.Sprintf("machine %q is already in another swarm (%s), not in swarm %s of %q; "+
		"to move it, take it out with `docker swarm leave --force` on it (docker-machine swarm leave --force %s) and run this again",
		e.Machine, e.Other, e.ClusterID, e.Manager, e.Machine)
}

// describeSwarm names the swarm a node is in, as well as its own answer allows.
func describeSwarm(i Info) string {
	if i.ClusterID != "" {
		return "swarm " + i.ClusterID
	}
	var addrs []string
	for _, p := range i.RemoteManagers {
		addrs = append(addrs, p.Addr)
	}
	if len(addrs) == 0 {
		return "a swarm whose managers it does not list"
	}
	return "a swarm managed by " + strings.Join(addrs, ", ")
}

// settledInfo reads a node's swarm state, waiting while a join it started
// earlier is still under way.
func settledInfo(ctx context.Context, m Member) (Info, error) {
	var info Info
	err := waitUntil(ctx, fmt.Sprintf("the pending swarm join of %q to finish", m.Name), WaitTimeout, func(ctx context.Context) (bool, error) {
		var err error
		info, err = m.Engine.Info(ctx)
		if err != nil {
			return false, poll.Permanent(err)
		}
		if info.LocalNodeState == StatePending {
			return false, poll.NotYet("%s", info.LocalNodeState)
		}
		return true, nil
	})
	if err != nil {
		return Info{}, err
	}
	switch info.LocalNodeState {
	case StateLocked:
		return info, fmt.Errorf("the swarm on %q is locked; unlock it with `docker swarm unlock` on the machine (docker-machine ssh %s) and run this again", m.Name, m.Name)
	case StateError:
		return info, fmt.Errorf("the swarm on %q is in an error state: %s; fix it on the machine, or leave the swarm with `docker-machine swarm leave --force %s`", m.Name, info.Error, m.Name)
	}
	return info, nil
}

// managerInfo checks that m manages a swarm that can take changes.
func managerInfo(ctx context.Context, m Member) (Info, error) {
	info, err := settledInfo(ctx, m)
	if err != nil {
		return info, err
	}
	switch {
	case info.LocalNodeState == StateInactive:
		return info, fmt.Errorf("machine %q is not in a swarm; create one with `docker-machine swarm init %s` first", m.Name, m.Name)
	case !info.ControlAvailable:
		return info, fmt.Errorf("machine %q is a worker, not a manager, of %s; name one of that swarm's managers instead", m.Name, describeSwarm(info))
	case info.Error != "":
		return info, fmt.Errorf("the swarm managed by %q cannot take changes now: %s; bring enough managers back (`docker-machine swarm ls %s` shows which are unreachable)", m.Name, info.Error, m.Name)
	}
	return info, nil
}

// EnsureManager makes m the manager of a swarm: it initialises a new swarm
// when m is in none, and changes nothing when m already manages one. A
// machine that is a worker of some swarm is an error.
func EnsureManager(ctx context.Context, m Member) (Result, error) {
	info, err := settledInfo(ctx, m)
	if err != nil {
		return failed(m.Name, err)
	}
	switch {
	case info.LocalNodeState == StateActive && info.ControlAvailable && info.Error != "":
		return failed(m.Name, fmt.Errorf("machine %q manages a swarm that cannot take changes now: %s; bring enough managers back (`docker-machine swarm ls %s` shows which are unreachable)", m.Name, info.Error, m.Name))
	case info.LocalNodeState == StateActive && info.ControlAvailable:
		return Result{Machine: m.Name, NodeID: info.NodeID, ClusterID: info.ClusterID, Role: RoleManager, Action: ActionUnchanged}, nil
	case info.LocalNodeState == StateActive:
		return failed(m.Name, fmt.Errorf("machine %q is a worker of %s and cannot start a swarm of its own; use a manager of that swarm, or take it out first with `docker-machine swarm leave %s`", m.Name, describeSwarm(info), m.Name))
	}
	if m.AdvertiseAddr == "" {
		return failed(m.Name, fmt.Errorf("no address to advertise for %q; give one with --advertise-addr", m.Name))
	}
	nodeID, err := m.Engine.Init(ctx, m.AdvertiseAddr, DefaultListenAddr)
	if err != nil {
		return failed(m.Name, err)
	}
	res := Result{Machine: m.Name, NodeID: nodeID, Role: RoleManager, Action: ActionInitialized}
	err = waitUntil(ctx, fmt.Sprintf("the new swarm on %q to elect it leader", m.Name), WaitTimeout, func(ctx context.Context) (bool, error) {
		info, err := m.Engine.Info(ctx)
		if err != nil {
			return false, err
		}
		res.ClusterID = info.ClusterID
		if !info.ControlAvailable || info.ClusterID == "" || info.Error != "" {
			return false, poll.NotYet("%s", describeInfo(info))
		}
		return true, nil
	})
	if err != nil {
		return failed(m.Name, err)
	}
	return res, nil
}

func describeInfo(i Info) string {
	s := "state " + string(i.LocalNodeState)
	if i.ControlAvailable {
		s += ", manager"
	}
	if i.Error != "" {
		s += ", error: " + i.Error
	}
	return s
}

// EnsureJoined makes node a member of manager's swarm with role:
//   - not in a swarm: it joins with the token for role, advertising
//     node.AdvertiseAddr;
//   - in manager's swarm with that role: nothing changes;
//   - in manager's swarm with the other role: the manager promotes or demotes it;
//   - in another swarm: an *OtherSwarmError.
//
// It returns once the manager sees the node ready (and, for a manager,
// reachable), so a following join can count on the new quorum.
func EnsureJoined(ctx context.Context, manager, node Member, role Role) (Result, error) {
	mi, ni, err := roleChange(ctx, manager, node, role)
	if err != nil {
		return failed(node.Name, err)
	}
	if ni.LocalNodeState == StateInactive {
		return join(ctx, manager, mi, node, role)
	}
	return setRole(ctx, manager, mi, node, ni, role)
}

// SetRole promotes or demotes node, which must already be in manager's swarm.
func SetRole(ctx context.Context, manager, node Member, role Role) (Result, error) {
	mi, ni, err := roleChange(ctx, manager, node, role)
	if err != nil {
		return failed(node.Name, err)
	}
	if ni.LocalNodeState == StateInactive {
		return failed(node.Name, fmt.Errorf("machine %q is not in a swarm; add it with `docker-machine swarm join --manager %s --role %s %s`", node.Name, manager.Name, role, node.Name))
	}
	return setRole(ctx, manager, mi, node, ni, role)
}

// roleChange checks role and reads what giving it to node starts from: the
// manager's swarm state and the node's, once settled.
func roleChange(ctx context.Context, manager, node Member, role Role) (mi, ni Info, err error) {
	if _, err := ParseRole(string(role)); err != nil {
		return Info{}, Info{}, err
	}
	if mi, err = managerInfo(ctx, manager); err != nil {
		return Info{}, Info{}, err
	}
	if ni, err = settledInfo(ctx, node); err != nil {
		return Info{}, Info{}, err
	}
	return mi, ni, nil
}

// setRole handles a node that is in some swarm: it checks the swarm is the
// manager's and changes the role when it differs.
func setRole(ctx context.Context, manager Member, mi Info, node Member, ni Info, role Role) (Result, error) {
	res := Result{Machine: node.Name, NodeID: ni.NodeID, ClusterID: mi.ClusterID, Role: role}
	if ni.NodeID == mi.NodeID {
		if role == RoleManager {
			res.Action = ActionUnchanged
			return res, nil
		}
		return failed(node.Name, fmt.Errorf("machine %q is the manager the change goes through and cannot demote itself; name another manager with --manager", node.Name))
	}
	other := func() error {
		return &OtherSwarmError{Machine: node.Name, Other: describeSwarm(ni), Manager: manager.Name, ClusterID: mi.ClusterID}
	}
	if ni.ClusterID != "" && ni.ClusterID != mi.ClusterID {
		return failed(node.Name, other())
	}
	n, err := manager.Engine.Node(ctx, ni.NodeID)
	if IsNotFound(err) {
		return failed(node.Name, other())
	}
	if err != nil {
		return failed(node.Name, err)
	}
	if n.Spec.Role == role {
		res.Action = ActionUnchanged
		return res, nil
	}
	if role == RoleManager {
		err = manager.Engine.Promote(ctx, n.ID)
		res.Action = ActionPromoted
	} else {
		err = manager.Engine.Demote(ctx, n.ID)
		res.Action = ActionDemoted
	}
	if err != nil {
		return failed(node.Name, err)
	}
	if err := waitRole(ctx, manager, node.Name, n.ID, role); err != nil {
		return failed(node.Name, err)
	}
	return res, nil
}

// managerAddrs lists the swarm addresses of the managers, the given
// manager's own first: the join tries them in order.
func managerAddrs(mi Info) []string {
	var own, others []string
	for _, p := range mi.RemoteManagers {
		if p.NodeID == mi.NodeID {
			own = append(own, p.Addr)
		} else {
			others = append(others, p.Addr)
		}
	}
	if len(own) == 0 && mi.NodeAddr != "" {
		own = []string{net.JoinHostPort(mi.NodeAddr, "2377")}
	}
	return append(own, others...)
}

func join(ctx context.Context, manager Member, mi Info, node Member, role Role) (Result, error) {
	if node.AdvertiseAddr == "" {
		return failed(node.Name, fmt.Errorf("no address to advertise for %q; give one with --advertise-addr", node.Name))
	}
	tokens, err := manager.Engine.JoinTokens(ctx)
	if err != nil {
		return failed(node.Name, err)
	}
	remotes := managerAddrs(mi)
	if len(remotes) == 0 {
		return failed(node.Name, fmt.Errorf("the swarm manager %q lists no manager address to join", manager.Name))
	}
	err = node.Engine.Join(ctx, tokens.For(role), remotes, node.AdvertiseAddr)
	// The daemon stops waiting after 20 s but carries on joining in the
	// background; the wait below sees how that ends.
	if err != nil && !messageHas(err, "Timeout was reached before node joined") {
		return failed(node.Name, fmt.Errorf("%w; check that %s can reach %s on TCP 2377 (and 7946 TCP/UDP, 4789 UDP between all nodes)", err, node.Name, strings.Join(remotes, ", ")))
	}
	var ni Info
	err = waitUntil(ctx, fmt.Sprintf("%q to become an active swarm node", node.Name), WaitTimeout, func(ctx context.Context) (bool, error) {
		var err error
		ni, err = node.Engine.Info(ctx)
		if err != nil {
			return false, err
		}
		switch ni.LocalNodeState {
		case StateActive:
			return true, nil
		case StatePending:
			return false, poll.NotYet("join pending")
		default:
			return false, poll.Permanent(fmt.Errorf("the swarm join of %q ended in state %s: %s", node.Name, ni.LocalNodeState, ni.Error))
		}
	})
	if err != nil {
		return failed(node.Name, err)
	}
	if err := waitRole(ctx, manager, node.Name, ni.NodeID, role); err != nil {
		return failed(node.Name, err)
	}
	return Result{Machine: node.Name, NodeID: ni.NodeID, ClusterID: mi.ClusterID, Role: role, Action: ActionJoined}, nil
}

// waitRole waits until the manager sees the node ready in role; a manager
// must also have become a reachable raft member.
func waitRole(ctx context.Context, manager Member, name, id string, role Role) error {
	what := fmt.Sprintf("%q to be a ready %s in the view of %q", name, role, manager.Name)
	return waitUntil(ctx, what, WaitTimeout, func(ctx context.Context) (bool, error) {
		n, err := manager.Engine.Node(ctx, id)
		if err != nil {
			return false, err
		}
		seen := fmt.Sprintf("role %s, status %s", n.Spec.Role, n.State)
		if n.Manager != nil {
			seen += ", manager " + n.Manager.Reachability
		}
		settled := n.State == "ready" && n.Spec.Role == role
		if role == RoleManager {
			settled = settled && n.Manager != nil && n.Manager.Reachability == "reachable"
		} else {
			settled = settled && n.Manager == nil
		}
		if !settled {
			return false, poll.NotYet("%s", seen)
		}
		return true, nil
	})
}

// Target is a machine to join and the role it should have.
type Target struct {
	Member
	Role Role
}

// JoinOptions tune JoinAll.
type JoinOptions struct {
	// Parallel bounds how many workers join at once; 0 means 8.
	Parallel int
	// Progress is called with each node's result as soon as it is known;
	// calls never overlap.
	Progress func(Result)
}

// JoinAll runs EnsureJoined for every target and returns the results in
// target order; one node's failure does not stop the others. Managers go
// first and one at a time, each waited for until it is a reachable raft
// member, because adding managers in parallel can leave the swarm without
// a quorum while they catch up. Workers then join concurrently.
func JoinAll(ctx context.Context, manager Member, targets []Target, opts JoinOptions) []Result {
	results := make([]Result, len(targets))
	var mu sync.Mutex
	report := func(i int, r Result) {
		mu.Lock()
		defer mu.Unlock()
		results[i] = r
		if opts.Progress != nil {
			opts.Progress(r)
		}
	}
	for i, t := range targets {
		if t.Role == RoleManager {
			r, _ := EnsureJoined(ctx, manager, t.Member, t.Role)
			report(i, r)
		}
	}
	parallel := opts.Parallel
	if parallel <= 0 {
		parallel = 8
	}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, t := range targets {
		if t.Role == RoleManager {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			r, _ := EnsureJoined(ctx, manager, t.Member, t.Role)
			report(i, r)
		})
	}
	wg.Wait()
	return results
}

// Leave takes node out of its swarm. With a manager (another member of the
// same swarm), a manager node is demoted first so the swarm keeps its
// quorum, and the node's entry is removed from the swarm's list after it
// left. Without one, the daemon's own safety checks apply and force
// overrides them. A node in no swarm is left alone.
func Leave(ctx context.Context, node Member, manager *Member, force bool) (Result, error) {
	ni, err := settledInfo(ctx, node)
	// A locked or broken swarm can still be left by force; an unreachable
	// daemon cannot.
	if err != nil && (!force || ni.LocalNodeState == "") {
		return failed(node.Name, err)
	}
	if ni.LocalNodeState == StateInactive {
		return Result{Machine: node.Name, Action: ActionUnchanged}, nil
	}
	res := Result{Machine: node.Name, NodeID: ni.NodeID, Action: ActionLeft}
	var via *Member
	if manager != nil {
		mi, err := managerInfo(ctx, *manager)
		if err != nil {
			return failed(node.Name, err)
		}
		res.ClusterID = mi.ClusterID
		if mi.NodeID != ni.NodeID {
			via = manager
			n, err := manager.Engine.Node(ctx, ni.NodeID)
			if IsNotFound(err) {
				return failed(node.Name, &OtherSwarmError{Machine: node.Name, Other: describeSwarm(ni), Manager: manager.Name, ClusterID: mi.ClusterID})
			}
			if err != nil {
				return failed(node.Name, err)
			}
			if n.Spec.Role == RoleManager {
				if err := manager.Engine.Demote(ctx, n.ID); err != nil {
					return failed(node.Name, err)
				}
				if err := waitRole(ctx, *manager, node.Name, n.ID, RoleWorker); err != nil {
					return failed(node.Name, err)
				}
			}
		}
	}
	if err := node.Engine.Leave(ctx, force); err != nil {
		if ni.ControlAvailable && !force {
			err = fmt.Errorf("%w\n%q is a manager: name another manager of its swarm with --manager so it is demoted first, or add --force (which can cost the swarm its quorum)", err, node.Name)
		}
		return failed(node.Name, err)
	}
	if via != nil {
		// The node has left; its entry would otherwise stay in the list as
		// "down". Force, because the managers notice the departure only at
		// the next missed heartbeat.
		if err := via.Engine.RemoveNode(ctx, ni.NodeID, true); err != nil && !IsNotFound(err) {
			return failed(node.Name, fmt.Errorf("%q left the swarm, but its entry stays in the node list: %w", node.Name, err))
		}
	}
	return res, nil
}

// NodeStatus is one row of a swarm's node list.
type NodeStatus struct {
	// Name is the machine name when the node is a known machine, else the
	// node's hostname.
	Name     string
	Machine  string `json:",omitempty"`
	Hostname string
	ID       string
	Role     Role
	// Availability is Active, Pause or Drain.
	Availability string
	// Status is Ready, Down, Disconnected or Unknown.
	Status string
	// ManagerStatus is Leader, Reachable, Unreachable or Unknown for
	// managers, empty for workers.
	ManagerStatus string
	Addr          string
	EngineVersion string
	// Self marks the node of the manager that was asked.
	Self bool
}

// List reads the nodes of manager's swarm. Nodes are named after the known
// machines: a machine matches the node whose address is its AdvertiseAddr,
// or else whose hostname is its name (provisioning sets the hostname to the
// machine name).
func List(ctx context.Context, manager Member, known ...Member) ([]NodeStatus, error) {
	mi, err := settledInfo(ctx, manager)
	if err != nil {
		return nil, err
	}
	if mi.LocalNodeState == StateInactive {
		return nil, fmt.Errorf("machine %q is not in a swarm; create one with `docker-machine swarm init %s`", manager.Name, manager.Name)
	}
	if !mi.ControlAvailable {
		return nil, fmt.Errorf("machine %q is a worker of %s; only managers can list the nodes, so name a manager", manager.Name, describeSwarm(mi))
	}
	nodes, err := manager.Engine.Nodes(ctx)
	if err != nil {
		if mi.Error != "" {
			err = fmt.Errorf("%w (the manager reports: %s)", err, mi.Error)
		}
		return nil, err
	}
	byAddr, byHost := map[string]string{}, map[string]string{}
	for _, k := range append([]Member{manager}, known...) {
		if k.AdvertiseAddr != "" {
			if _, dup := byAddr[k.AdvertiseAddr]; !dup {
				byAddr[k.AdvertiseAddr] = k.Name
			}
		}
		byHost[k.Name] = k.Name
	}
	out := make([]NodeStatus, 0, len(nodes))
	for _, n := range nodes {
		s := NodeStatus{
			Hostname:      n.Hostname,
			ID:            n.ID,
			Role:          n.Spec.Role,
			Availability:  title(string(n.Spec.Availability)),
			Status:        title(n.State),
			Addr:          n.Addr,
			EngineVersion: n.EngineVersion,
			Self:          n.ID == mi.NodeID,
		}
		if n.Manager != nil {
			s.ManagerStatus = title(n.Manager.Reachability)
			if n.Manager.Leader {
				s.ManagerStatus = "Leader"
			}
		}
		addr := n.Addr
		if n.Manager != nil && n.Manager.Addr != "" {
			if h, _, err := net.SplitHostPort(n.Manager.Addr); err == nil {
				addr = h
			}
		}
		if name, ok := byAddr[addr]; ok {
			s.Machine = name
		} else if name, ok := byAddr[n.Addr]; ok {
			s.Machine = name
		} else if name, ok := byHost[n.Hostname]; ok {
			s.Machine = name
		}
		s.Name = s.Machine
		if s.Name == "" {
			s.Name = n.Hostname
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b NodeStatus) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

func title(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
