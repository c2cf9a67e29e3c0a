package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/fleetdock/machine/libmachine/capability"
	"github.com/fleetdock/machine/libmachine/swarm"
)

// Machines is the machine side of a cluster: the store and the create and
// remove lifecycle. The CLI implements it with the code path of
// `docker-machine create` and `rm`.
type Machines interface {
	// List names every machine in the store.
	List(ctx context.Context) ([]string, error)
	// Prepare readies what every create shares (the CA and client
	// certificate) before creates run in parallel.
	Prepare(ctx context.Context) error
	// PrepareShared makes the cloud resources that the creates of nodes
	// of n's driver configuration (Node.fingerprint) share, so that those
	// creates can run at once. A driver that shares nothing returns none.
	PrepareShared(ctx context.Context, n Node, out io.Writer) ([]capability.Resource, error)
	// Create makes the node, writing its progress lines to out. A failed
	// create cleans up after itself.
	Create(ctx context.Context, n Node, out io.Writer) error
	// Exists reports whether a machine is in the store.
	Exists(name string) (bool, error)
	// Remove removes the machine and its cloud resources, as `rm -y`;
	// with force the store entry goes even when the driver fails (`rm -f`).
	Remove(ctx context.Context, name string, force bool, out io.Writer) error
	// State is the machine's state as `docker-machine status` prints it.
	State(ctx context.Context, name string) (string, error)
}

// Swarm is the swarm side, by machine name.
type Swarm interface {
	Info(ctx context.Context, machine string) (swarm.Info, error)
	EnsureManager(ctx context.Context, machine string) (swarm.Result, error)
	EnsureJoined(ctx context.Context, manager, machine string, role Role) (swarm.Result, error)
	Services(ctx context.Context, manager string) ([]Service, error)
	Nodes(ctx context.Context, manager string, machines []string) ([]swarm.NodeStatus, error)
	SwarmNetworks
}

// Phase is where a node is in `cluster up` or `down`.
type Phase string

const (
	PhaseWaiting  Phase = "waiting"
	PhaseCreating Phase = "creating"
	PhaseExists   Phase = "exists"
	PhaseCreated  Phase = "created"
	PhaseJoining  Phase = "joining"
	PhaseReady    Phase = "ready"
	PhaseFailed   Phase = "failed"
	PhaseRemoving Phase = "removing"
	PhaseRemoved  Phase = "removed"
)

// Event is one progress report: a node's new phase, or a line of its
// output (Line set, Phase empty). Node is empty for cluster-wide lines.
type Event struct {
	Node  string
	Phase Phase
	Line  string
}

// Options tune Up and Down.
type Options struct {
	// Parallel bounds concurrent creates, removes and worker joins; 0
	// means DefaultParallel.
	Parallel int
	// Progress receives events; calls never overlap.
	Progress func(Event)
	// LoadBalancers returns the SLB client for a load balancer of the file.
	LoadBalancers func(ctx context.Context, lbID string) (LoadBalancers, error)
}

// NodeFailure is a node that failed, and whether it was removed again.
type NodeFailure struct {
	Node    string
	Err     error
	Removed bool
}

// Result is what Up or Down did.
type Result struct {
	Created   []string
	Existing  []string
	Joined    []string // nodes whose swarm membership changed
	Removed   []string
	Failed    []NodeFailure
	Manager   string // the manager the swarm was run through
	ClusterID string
	Syncs     []SyncReport
	Networks  []NetworkReport
	Notes     []string
	// Errs are failures not tied to one node (SLB sync, no manager).
	Errs []error
}

// Err summarises every failure, or nil.
func (r *Result) Err() error {
	var errs []error
	for _, f := range r.Failed {
		what := "left out"
		if !f.Removed {
			what = "kept in the store"
		}
		errs = append(errs, fmt.Errorf("node %s failed (%s): %w", f.Node, what, f.Err))
	}
	errs = append(errs, r.Errs...)
	return errors.Join(errs...)
}

type runner struct {
	f   *File
	m   Machines
	sw  Swarm
	opt Options

	mu  sync.Mutex
	res Result
}

func newRunner(f *File, m Machines, sw Swarm, opt Options) *runner {
	if opt.Parallel <= 0 {
		opt.Parallel = DefaultParallel
	}
	return &runner{f: f, m: m, sw: sw, opt: opt}
}

// plan compares the file with the machines in the store; when the store
// cannot be listed, the run ends with that error.
func (r *runner) plan(ctx context.Context) (Plan, bool) {
	plan, err := currentPlan(ctx, r.f, r.m)
	if err != nil {
		r.res.Errs = append(r.res.Errs, err)
		return Plan{}, false
	}
	return plan, true
}

// currentPlan compares the file with the machines in the store now.
func currentPlan(ctx context.Context, f *File, m Machines) (Plan, error) {
	existing, err := m.List(ctx)
	if err != nil {
		return Plan{}, fmt.Errorf("listing the machines in the store: %w", err)
	}
	return NewPlan(f, existing), nil
}

// inParallel runs do for every item, at most limit at a time, and returns
// when all are done.
func inParallel[T any](limit int, items []T, do func(T)) {
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for _, item := range items {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			do(item)
		})
	}
	wg.Wait()
}

func (r *runner) emit(ev Event) {
	if r.opt.Progress == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.opt.Progress(ev)
}

func (r *runner) note(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	r.mu.Lock()
	r.res.Notes = append(r.res.Notes, line)
	r.mu.Unlock()
	r.emit(Event{Line: line})
}

func (r *runner) fail(node string, err error, removed bool) {
	r.mu.Lock()
	r.res.Failed = append(r.res.Failed, NodeFailure{Node: node, Err: err, Removed: removed})
	r.mu.Unlock()
	r.emit(Event{Node: node, Phase: PhaseFailed, Line: err.Error()})
}

// lineWriter turns a node's output into events, one per line.
type lineWriter struct {
	r    *runner
	node string
	mu   sync.Mutex
	buf  []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.buf = append(w.buf, p...)
	var lines []string
	for {
		i := slices.Index(w.buf, '\n')
		if i < 0 {
			break
		}
		lines = append(lines, strings.TrimRight(string(w.buf[:i]), "\r"))
		w.buf = w.buf[i+1:]
	}
	w.mu.Unlock()
	for _, l := range lines {
		if l != "" {
			w.r.emit(Event{Node: w.node, Line: l})
		}
	}
	return len(p), nil
}

// Up makes the cluster match the file as a pipeline: it prepares what the
// nodes of each driver configuration share, creates every missing node at
// once (at most Parallel at a time), and puts each node in the swarm as
// soon as it is ready: the first manager ready initialises the swarm
// (unless an existing manager runs one, which is kept), managers join one
// at a time, workers in parallel. Last it syncs the SLB listeners. A node
// that fails to be created or joined is removed again when this run
// created it, and left out; the others carry on. Running it again changes
// nothing.
func Up(ctx context.Context, f *File, m Machines, sw Swarm, opt Options) *Result {
	r := newRunner(f, m, sw, opt)
	plan, ok := r.plan(ctx)
	if !ok {
		return &r.res
	}
	for _, n := range plan.Present {
		r.res.Existing = append(r.res.Existing, n.Name)
		r.emit(Event{Node: n.Name, Phase: PhaseExists})
	}
	for _, n := range plan.Missing {
		r.emit(Event{Node: n.Name, Phase: PhaseWaiting})
	}
	for _, name := range plan.Extra {
		r.note("%s is beyond its group's count; it is left as it is (cluster down removes it)", name)
	}

	leader := r.pipeline(ctx, plan)
	sort.Strings(r.res.Created)
	sort.Strings(r.res.Joined)
	if leader == "" {
		if ctx.Err() == nil {
			r.res.Errs = append(r.res.Errs, fmt.Errorf("%w, so no node was joined; fix the failures above and run `cluster up` again", errNoLeader))
		}
		return &r.res
	}
	r.res.Manager = leader

	// The swarm is formed: what the cluster needs of it as a whole is
	// made through the leader from here on, the listeners last.
	r.ensureNetworks(ctx, leader)
	r.syncAll(ctx, leader)
	return &r.res
}

// cleanup makes sure a failed node leaves no store entry (a failed create
// rolls back by itself; this covers a rollback that could not finish and
// nodes that failed later). It reports whether the node is gone. It runs
// on the cleanup context of up's ctx: an interrupted up still cleans up,
// and a second Ctrl-C stops that too.
func (r *runner) cleanup(ctx context.Context, name string) bool {
	ctx = capability.CleanupContext(ctx)
	exists, err := r.m.Exists(name)
	if err != nil {
		return false
	}
	if !exists {
		return true
	}
	r.emit(Event{Node: name, Phase: PhaseRemoving})
	out := &lineWriter{r: r, node: name}
	if err := r.m.Remove(ctx, name, false, out); err != nil {
		// No half-made machine may stay listed: drop the entry, and say
		// what the driver could not remove.
		r.note("%s: removing its cloud resources after the failure did not finish: %v", name, err)
		if err := r.m.Remove(ctx, name, true, out); err != nil {
			r.note("%s could not be removed from the store: %v", name, err)
			return false
		}
	}
	return true
}

func (r *runner) managerReady(name string, res swarm.Result) {
	r.mu.Lock()
	r.res.ClusterID = res.ClusterID
	if res.Action != swarm.ActionUnchanged {
		r.res.Joined = append(r.res.Joined, name)
	}
	r.mu.Unlock()
	r.emit(Event{Node: name, Phase: PhaseReady, Line: res.String()})
}

// join puts n in the swarm of leader; a new node that cannot join is
// removed.
func (r *runner) join(ctx context.Context, leader string, n Node, isNew bool) {
	if ctx.Err() != nil {
		r.fail(n.Name, fmt.Errorf("not joined: %w", ctx.Err()), false)
		return
	}
	r.emit(Event{Node: n.Name, Phase: PhaseJoining})
	res, err := r.sw.EnsureJoined(ctx, leader, n.Name, n.Role)
	if err != nil {
		removed := false
		if isNew {
			removed = r.cleanup(ctx, n.Name)
		}
		r.fail(n.Name, fmt.Errorf("joining the swarm as %s: %w", n.Role, err), removed)
		return
	}
	if res.Action != swarm.ActionUnchanged {
		r.mu.Lock()
		r.res.Joined = append(r.res.Joined, n.Name)
		r.mu.Unlock()
	}
	r.emit(Event{Node: n.Name, Phase: PhaseReady, Line: res.String()})
}

// Owned tells which listeners of an SLB the file's sync may change.
func (f *File) Owned(lb LoadBalancer) func(Listener) bool {
	ownCluster := IsClusterListener(f.Name)
	return func(l Listener) bool {
		return ownCluster(l) || (lb.Services && IsServiceListener(l))
	}
}

// syncAll brings every load balancer of the file to its listeners.
func (r *runner) syncAll(ctx context.Context, leader string) {
	if len(r.f.LoadBalancers) == 0 {
		return
	}
	var services []Service
	needServices := slices.ContainsFunc(r.f.LoadBalancers, func(lb LoadBalancer) bool { return lb.Services })
	if needServices {
		var err error
		services, err = r.sw.Services(ctx, leader)
		if err != nil {
			r.res.Errs = append(r.res.Errs, fmt.Errorf("reading the swarm services through %s for the SLB listeners: %w", leader, err))
			return
		}
	}
	for _, lb := range r.f.LoadBalancers {
		want := StaticListeners(r.f.Name, lb)
		if lb.Services {
			sl, notes, err := ServiceListeners(services, lb.ServicePorts)
			for _, n := range notes {
				r.note("%s", n)
			}
			if err != nil {
				r.res.Errs = append(r.res.Errs, fmt.Errorf("load balancer %s: %w", lb.ID, err))
			}
			want = append(want, sl...)
		}
		lbs, err := r.opt.LoadBalancers(ctx, lb.ID)
		if err != nil {
			r.res.Errs = append(r.res.Errs, fmt.Errorf("load balancer %s: %w", lb.ID, err))
			continue
		}
		rep, err := SyncListeners(ctx, lbs, lb.ID, want, r.f.Owned(lb))
		r.res.Syncs = append(r.res.Syncs, rep)
		for _, line := range rep.Lines() {
			r.emit(Event{Line: line})
		}
		if err != nil {
			r.res.Errs = append(r.res.Errs, err)
		}
	}
}

// Lines describe a sync report, one change per line.
func (s SyncReport) Lines() []string {
	var out []string
	for _, l := range s.Plan.Delete {
		out = append(out, fmt.Sprintf("%s: deleted listener %s (%s)", s.LoadBalancer, l, l.Description))
	}
	for _, l := range s.Plan.Replace {
		out = append(out, fmt.Sprintf("%s: re-created listener %s (%s)", s.LoadBalancer, l, l.Description))
	}
	for _, l := range s.Plan.Create {
		out = append(out, fmt.Sprintf("%s: created listener %s (%s)", s.LoadBalancer, l, l.Description))
	}
	for _, l := range s.Plan.Start {
		out = append(out, fmt.Sprintf("%s: started listener %s (%s)", s.LoadBalancer, l, l.Description))
	}
	for _, l := range s.Plan.Keep {
		out = append(out, fmt.Sprintf("%s: listener %s is up to date (%s)", s.LoadBalancer, l, l.Description))
	}
	out = append(out, s.Notes...)
	return out
}
