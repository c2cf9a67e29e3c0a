package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/fleetdock/machine/libmachine/swarm"
)

// DefaultParallel is how many machines up creates (and down removes) at
// once unless told otherwise: enough for a typical cluster (seed 000's five
// nodes, a six-node bench) to go in one wave. A create mostly waits on the
// cloud's API and on SSH, and costs the CLI one driver process.
const DefaultParallel = 8

// errNoLeader ends the swarm step of a node when no manager could lead.
var errNoLeader = errors.New("no manager could run the swarm")

// election decides, once, the manager the swarm is run through, and makes
// the managers take their swarm steps one at a time.
type election struct {
	// turn is held by the manager whose swarm step runs.
	turn sync.Mutex

	mu       sync.Mutex
	leader   string
	decided  chan struct{} // closed once leader is set or no manager can lead
	hopefuls int           // new managers that may still lead
}

func newElection(hopefuls int) *election {
	return &election{decided: make(chan struct{}), hopefuls: hopefuls}
}

func (e *election) isDecided() bool {
	select {
	case <-e.decided:
		return true
	default:
		return false
	}
}

// decide ends the election with leader ("" for none); later calls change
// nothing.
func (e *election) decide(leader string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.isDecided() {
		return
	}
	e.leader = leader
	close(e.decided)
}

// drop takes a new manager out of the running (its create or its
// initialisation failed); when it was the last one, nobody leads.
func (e *election) drop() {
	e.mu.Lock()
	e.hopefuls--
	last := e.hopefuls <= 0
	e.mu.Unlock()
	if last {
		e.decide("")
	}
}

// settle ends the election without a leader when no manager is left that
// could still lead.
func (e *election) settle() {
	e.mu.Lock()
	none := e.hopefuls <= 0
	e.mu.Unlock()
	if none {
		e.decide("")
	}
}

// state is the leader, and whether it is decided.
func (e *election) state() (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leader, e.isDecided()
}

// pipeline creates every missing node at once (at most Parallel at a
// time) and gives each node its swarm step as soon as it is ready: the
// first manager ready initialises the swarm unless a manager already there
// runs one, managers join one at a time, workers in parallel once a leader
// exists. It returns the leader, or "" when no manager could lead.
func (r *runner) pipeline(ctx context.Context, plan Plan) string {
	var presentManagers, presentWorkers []Node
	for _, n := range plan.Present {
		if n.Role == RoleManager {
			presentManagers = append(presentManagers, n)
		} else {
			presentWorkers = append(presentWorkers, n)
		}
	}
	newManagers := 0
	for _, n := range plan.Missing {
		if n.Role == RoleManager {
			newManagers++
		}
	}
	e := newElection(newManagers)
	prepared := r.prepare(ctx, plan.Missing)

	joins := make(chan struct{}, r.opt.Parallel)
	var wg sync.WaitGroup
	// The managers already there are ready now, so they go first: the
	// election is settled among them before any new manager may lead.
	e.turn.Lock()
	// Creates start in file order, managers first, at most Parallel at a
	// time; each node's swarm step then runs on its own.
	queue := make(chan Node, len(plan.Missing))
	for _, n := range plan.Missing {
		queue <- n
	}
	close(queue)
	for range min(r.opt.Parallel, len(plan.Missing)) {
		wg.Go(func() {
			for n := range queue {
				if !r.create(ctx, n, prepared(n)) {
					if n.Role == RoleManager {
						e.drop()
					}
					continue
				}
				wg.Go(func() { r.swarmStep(ctx, e, n, true, joins) })
			}
		})
	}
	for _, n := range presentWorkers {
		wg.Go(func() { r.swarmStep(ctx, e, n, false, joins) })
	}
	r.leadWithExisting(ctx, e, presentManagers)
	e.settle()
	e.turn.Unlock()
	wg.Wait()
	leader, _ := e.state()
	return leader
}

// prepare readies what the creates share, all before the first create:
// the certificates, then the cloud resources of each driver configuration
// (once per configuration, configurations in parallel). It returns each
// node's reason not to be created, nil when it may be.
func (r *runner) prepare(ctx context.Context, missing []Node) func(Node) error {
	if len(missing) == 0 {
		return func(Node) error { return nil }
	}
	if err := r.m.Prepare(ctx); err != nil {
		err = fmt.Errorf("preparing certificates: %w", err)
		return func(Node) error { return err }
	}
	var configs []string
	groups := map[string][]string{} // fingerprint -> group names
	first := map[string]Node{}
	for _, n := range missing {
		fp := n.fingerprint()
		if _, ok := first[fp]; !ok {
			configs = append(configs, fp)
			first[fp] = n
		}
		if !slices.Contains(groups[fp], n.Group) {
			groups[fp] = append(groups[fp], n.Group)
		}
	}
	var mu sync.Mutex
	failed := map[string]error{}
	inParallel(r.opt.Parallel, configs, func(fp string) {
		who := "group " + groups[fp][0]
		if len(groups[fp]) > 1 {
			who = "groups " + strings.Join(groups[fp], ", ")
		}
		res, err := r.m.PrepareShared(ctx, first[fp], &lineWriter{r: r})
		if err != nil {
			mu.Lock()
			failed[fp] = fmt.Errorf("not created: %w", err)
			mu.Unlock()
			return
		}
		for _, rs := range res {
			r.emit(Event{Line: fmt.Sprintf("%s is ready for %s", rs, who)})
		}
	})
	return func(n Node) error { return failed[n.fingerprint()] }
}

// create makes one node and reports whether it was made. A node that
// fails is cleaned up.
func (r *runner) create(ctx context.Context, n Node, notNow error) bool {
	if notNow != nil {
		r.fail(n.Name, notNow, true)
		return false
	}
	if ctx.Err() != nil {
		r.fail(n.Name, fmt.Errorf("not created: %w", ctx.Err()), true)
		return false
	}
	r.emit(Event{Node: n.Name, Phase: PhaseCreating})
	if err := r.m.Create(ctx, n, &lineWriter{r: r, node: n.Name}); err != nil {
		r.fail(n.Name, err, r.cleanup(ctx, n.Name))
		return false
	}
	r.emit(Event{Node: n.Name, Phase: PhaseCreated})
	r.mu.Lock()
	r.res.Created = append(r.res.Created, n.Name)
	r.mu.Unlock()
	return true
}

// swarmStep puts a ready node in the swarm: a manager on its turn (it
// leads when nobody does yet), a worker as soon as a leader exists, at
// most Parallel workers at a time.
func (r *runner) swarmStep(ctx context.Context, e *election, n Node, isNew bool, joins chan struct{}) {
	if n.Role == RoleManager {
		e.turn.Lock()
		defer e.turn.Unlock()
		leader, decided := e.state()
		switch {
		case leader != "":
			r.join(ctx, leader, n, isNew)
		case decided:
			r.leaderless(ctx, n, isNew)
		default:
			r.tryToLead(ctx, e, n)
		}
		return
	}
	select {
	case <-e.decided:
	case <-ctx.Done():
	}
	leader, _ := e.state()
	if leader == "" {
		r.leaderless(ctx, n, isNew)
		return
	}
	select {
	case joins <- struct{}{}:
		defer func() { <-joins }()
	case <-ctx.Done():
	}
	r.join(ctx, leader, n, isNew)
}

// tryToLead initialises the swarm on a new manager; one that fails is
// removed, and the next manager ready tries.
func (r *runner) tryToLead(ctx context.Context, e *election, n Node) {
	if ctx.Err() != nil {
		r.fail(n.Name, fmt.Errorf("not joined: %w", ctx.Err()), false)
		e.drop()
		return
	}
	r.emit(Event{Node: n.Name, Phase: PhaseJoining})
	res, err := r.sw.EnsureManager(ctx, n.Name)
	if err != nil {
		r.fail(n.Name, fmt.Errorf("initialising the swarm: %w", err), r.cleanup(ctx, n.Name))
		e.drop()
		return
	}
	r.managerReady(n.Name, res)
	e.decide(n.Name)
}

// leadWithExisting settles the election among the managers already in the
// store: one that is an active manager keeps leading its swarm, else the
// first of them initialises one. An old manager is never passed over, so
// a second swarm is never started beside one it may run.
func (r *runner) leadWithExisting(ctx context.Context, e *election, managers []Node) {
	if len(managers) == 0 {
		return
	}
	leader := ""
	for _, n := range managers {
		if info, err := r.sw.Info(ctx, n.Name); err == nil && info.LocalNodeState == swarm.StateActive && info.ControlAvailable {
			r.emit(Event{Node: n.Name, Phase: PhaseJoining})
			res, err := r.sw.EnsureManager(ctx, n.Name)
			if err != nil {
				r.fail(n.Name, err, false)
				e.decide("")
				return
			}
			r.managerReady(n.Name, res)
			leader = n.Name
			break
		}
	}
	if leader == "" {
		n := managers[0]
		if ctx.Err() != nil {
			e.decide("")
			return
		}
		r.emit(Event{Node: n.Name, Phase: PhaseJoining})
		res, err := r.sw.EnsureManager(ctx, n.Name)
		if err != nil {
			r.fail(n.Name, fmt.Errorf("initialising the swarm: %w", err), false)
			e.decide("")
			return
		}
		r.managerReady(n.Name, res)
		leader = n.Name
	}
	e.decide(leader)
	for _, n := range managers {
		if n.Name != leader {
			r.join(ctx, leader, n, false)
		}
	}
}

// leaderless fails a node that waited for a leader in vain; a new one is
// removed.
func (r *runner) leaderless(ctx context.Context, n Node, isNew bool) {
	if ctx.Err() != nil {
		r.fail(n.Name, fmt.Errorf("not joined: %w", ctx.Err()), false)
		return
	}
	removed := false
	if isNew {
		removed = r.cleanup(ctx, n.Name)
	}
	r.fail(n.Name, fmt.Errorf("not joined: %w", errNoLeader), removed)
}
