package cluster

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/fleetdock/machine/libmachine/swarm"
)

// Down removes the cluster: first the listeners it made on its load
// balancers (fixed ones, and service ones where the file syncs services),
// then every node, extras included, as `docker-machine rm` does. The load
// balancers themselves are never deleted: the cluster did not create them.
//
// Nodes go in parallel except the last of each driver configuration,
// removed alone at the end, so resources the nodes share (a security group
// docker-machine made) are deleted by the node that finds itself the last
// user, instead of being kept by every node because the others still exist.
func Down(ctx context.Context, f *File, m Machines, opt Options) *Result {
	r := newRunner(f, m, nil, opt)
	plan, ok := r.plan(ctx)
	if !ok {
		return &r.res
	}

	for _, lb := range f.LoadBalancers {
		lbs, err := opt.LoadBalancers(ctx, lb.ID)
		if err != nil {
			r.res.Errs = append(r.res.Errs, fmt.Errorf("load balancer %s: %w", lb.ID, err))
			continue
		}
		deleted, err := DeleteOwnedListeners(ctx, lbs, lb.ID, f.Owned(lb))
		for _, l := range deleted {
			r.emit(Event{Line: fmt.Sprintf("%s: deleted listener %s (%s)", lb.ID, l, l.Description)})
		}
		if err != nil {
			r.res.Errs = append(r.res.Errs, err)
		}
	}

	var names []string
	last := map[string]string{} // fingerprint -> the node removed last
	byGroup := map[string]Node{}
	for _, n := range plan.Nodes {
		byGroup[n.Group] = n
	}
	for _, n := range plan.Present {
		names = append(names, n.Name)
		last[n.fingerprint()] = n.Name
	}
	for _, name := range plan.Extra {
		names = append(names, name)
		for g, n := range byGroup {
			if len(name) > len(f.Name)+len(g)+2 && name[:len(f.Name)+len(g)+2] == f.Name+"-"+g+"-" {
				if _, ok := last[n.fingerprint()]; !ok {
					last[n.fingerprint()] = name
				}
			}
		}
	}
	final := map[string]bool{}
	for _, name := range last {
		final[name] = true
	}
	remove := func(name string) {
		r.emit(Event{Node: name, Phase: PhaseRemoving})
		if err := m.Remove(ctx, name, false, &lineWriter{r: r, node: name}); err != nil {
			r.fail(name, err, false)
			return
		}
		r.mu.Lock()
		r.res.Removed = append(r.res.Removed, name)
		r.mu.Unlock()
		r.emit(Event{Node: name, Phase: PhaseRemoved})
	}
	var together, alone []string
	for _, name := range names {
		if final[name] {
			alone = append(alone, name)
		} else {
			together = append(together, name)
		}
	}
	inParallel(r.opt.Parallel, together, remove)
	for _, name := range alone {
		remove(name)
	}
	slices.Sort(r.res.Removed)
	return &r.res
}

// NodeStatus is one node in `cluster status`.
type NodeStatus struct {
	Name   string
	Group  string
	Role   Role   // the role the file gives it
	Exists bool   // in the store
	State  string // Running, Stopped, ... or the error
	// Swarm is the node as the swarm's managers see it (zero when the
	// node is not in the swarm or no manager answered).
	Swarm swarm.NodeStatus
	Extra bool // beyond its group's count
}

// LoadBalancerStatus is one SLB in `cluster status`.
type LoadBalancerStatus struct {
	LoadBalancerState
	Listeners []Listener
	Err       error
}

// Status is the cluster as it is now.
type Status struct {
	Name          string
	Manager       string // the manager the swarm was read through
	SwarmErr      error
	Nodes         []NodeStatus
	LoadBalancers []LoadBalancerStatus
	Networks      []NetworkStatus
}

// GetStatus reads nodes, their swarm membership, and the load balancers.
func GetStatus(ctx context.Context, f *File, m Machines, sw Swarm, opt Options) (*Status, error) {
	plan, err := currentPlan(ctx, f, m)
	if err != nil {
		return nil, err
	}
	st := &Status{Name: f.Name}
	have := map[string]bool{}
	for _, n := range plan.Present {
		have[n.Name] = true
	}
	for _, n := range plan.Nodes {
		st.Nodes = append(st.Nodes, NodeStatus{Name: n.Name, Group: n.Group, Role: n.Role, Exists: have[n.Name]})
	}
	for _, name := range plan.Extra {
		st.Nodes = append(st.Nodes, NodeStatus{Name: name, Exists: true, Extra: true})
	}
	var wg sync.WaitGroup
	for i := range st.Nodes {
		if !st.Nodes[i].Exists {
			st.Nodes[i].State = "Not created"
			continue
		}
		wg.Go(func() {
			s, err := m.State(ctx, st.Nodes[i].Name)
			if err != nil {
				s = "Error: " + err.Error()
			}
			st.Nodes[i].State = s
		})
	}
	wg.Wait()

	var machines []string
	for _, n := range st.Nodes {
		if n.Exists {
			machines = append(machines, n.Name)
		}
	}
	for _, n := range st.Nodes {
		if !n.Exists || n.Role != RoleManager || n.State != "Running" {
			continue
		}
		nodes, err := sw.Nodes(ctx, n.Name, machines)
		if err != nil {
			st.SwarmErr = err
			continue
		}
		st.Manager, st.SwarmErr = n.Name, nil
		for i := range st.Nodes {
			for _, sn := range nodes {
				if sn.Machine == st.Nodes[i].Name {
					st.Nodes[i].Swarm = sn
				}
			}
		}
		break
	}
	st.Networks = networkStatuses(ctx, sw, st.Manager, f)

	for _, lb := range f.LoadBalancers {
		ls := LoadBalancerStatus{LoadBalancerState: LoadBalancerState{ID: lb.ID}}
		lbs, err := opt.LoadBalancers(ctx, lb.ID)
		if err == nil {
			ls.LoadBalancerState, err = lbs.DescribeLoadBalancer(ctx, lb.ID)
		}
		if err == nil {
			ls.Listeners, err = lbs.Listeners(ctx, lb.ID)
		}
		ls.Err = err
		st.LoadBalancers = append(st.LoadBalancers, ls)
	}
	return st, nil
}
