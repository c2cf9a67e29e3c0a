// Package capability names the optional features the core asks a driver for,
// beyond docker-machine's drivers.Driver: every address of a host, a data
// disk for the provisioner, "this driver has no SSH", load balancing, and
// context-taking forms of the driver calls so that a Ctrl-C stops them.
//
// A driver offers a capability by implementing its interface. The core never
// type-asserts a driver itself: it calls Get, which also sees through
// wrappers (an opened built-in, a plugin client) that implement Provider.
// A plugin binary offers the same capabilities over an extra net/rpc service
// next to the stock one (see libmachine/plugin), so a capability answers the
// same whether its driver runs in the CLI's process or as a plugin.
//
// This package is a leaf: drivers import it, and it imports no driver and
// nothing of libmachine.
package capability

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/docker/machine/libmachine/drivers"
	"github.com/docker/machine/libmachine/state"
)

// Provider is implemented by driver wrappers that learn at run time what the
// driver behind them offers. Capability stores the implementation of the
// interface target points to (a *LoadBalancing, say) and reports whether
// there is one, as errors.As does.
type Provider interface {
	Capability(target any) bool
}

// Get returns d's implementation of the capability interface T.
func Get[T any](d drivers.Driver) (T, bool) {
	var zero T
	if d == nil {
		return zero, false
	}
	if p, ok := d.(Provider); ok {
		var t T
		if p.Capability(&t) {
			return t, true
		}
		return zero, false
	}
	t, ok := any(d).(T)
	return t, ok
}

// Has reports whether d offers the capability interface T.
func Has[T any](d drivers.Driver) bool {
	_, ok := Get[T](d)
	return ok
}

// Addresses are every address of a host its driver knows.
type Addresses struct {
	Public  []string `json:",omitempty"`
	Private []string `json:",omitempty"`
	IPv6    []string `json:",omitempty"`
}

// All lists the addresses public first, then IPv6, then private, without
// duplicates or blanks: the order the server certificate and the swarm's
// "last private address" rule rely on.
func (a Addresses) All() []string {
	var out []string
	for _, list := range [][]string{a.Public, a.IPv6, a.Private} {
		for _, s := range list {
			if s != "" && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// PrivateOrLast is the address the nodes of a cluster talk over: the last
// private address, else the last address of any kind, else "".
func (a Addresses) PrivateOrLast() string {
	all := a.All()
	for i := len(all) - 1; i >= 0; i-- {
		if ip, err := netip.ParseAddr(all[i]); err == nil && ip.IsPrivate() {
			return all[i]
		}
	}
	if len(all) == 0 {
		return ""
	}
	return all[len(all)-1]
}

// AddressReporter is a driver that knows every address of its host.
type AddressReporter interface {
	Addresses(ctx context.Context) (Addresses, error)
}

// EngineForwarder is a driver whose Docker URL reaches the host through a
// port forward (a NAT rule on the local machine): Docker listens on
// EnginePort inside the host, not on the URL's port.
type EngineForwarder interface {
	EnginePort() int
}

// DataDisk is a block device the driver attached to hold /var/lib/docker.
type DataDisk struct {
	Device string // e.g. /dev/vdb
	FS     string // filesystem to create when the disk is blank; "" means ext4
}

// DataDisker is a driver that attached a data disk for the provisioner to
// format and mount. It returns nil when this machine has none.
type DataDisker interface {
	DataDisk() (*DataDisk, error)
}

// SSHLess is a driver whose machines have no SSH (the none driver): the core
// neither provisions them nor re-issues their certificates.
type SSHLess interface {
	HasNoSSH() bool
}

// Listener is one listener of a load balancer.
type Listener struct {
	Port        int    // front port on the load balancer
	BackendPort int    // port on every backend
	Protocol    string // "tcp", "udp", "http", "https"
	Status      string // "running", "stopped", ...
	Description string
}

func (l Listener) String() string {
	return fmt.Sprintf("%s %d -> %d", strings.ToUpper(l.Protocol), l.Port, l.BackendPort)
}

// Backend is one backend of a load balancer with its health per listener port.
type Backend struct {
	ServerID string
	Weight   int
	Health   map[int]string // listener port -> normal, abnormal, unavailable
}

// LoadBalancer is what a load balancer looks like now.
type LoadBalancer struct {
	ID, Name, Address, Status string
	Backends                  []Backend
}

// ListenerManager reads load balancers and manages their listeners: what
// the cluster and the slb commands do with a load balancer once its
// backends are attached.
type ListenerManager interface {
	DescribeLoadBalancer(ctx context.Context, lbID string) (LoadBalancer, error)
	Listeners(ctx context.Context, lbID string) ([]Listener, error)
	// CreateListener makes a stopped listener with a health check on the
	// backend port.
	CreateListener(ctx context.Context, lbID string, l Listener) error
	StartListener(ctx context.Context, lbID string, port int) error
	DeleteListener(ctx context.Context, lbID string, port int) error
}

// LoadBalancing is a driver that manages its cloud's load balancers with
// the driver's own settings (region, endpoint, credentials).
type LoadBalancing interface {
	// BackendOptions are the create options (flag name without "--" to
	// value) that make a new machine a backend of lbID with weight (0: the
	// driver's default). The driver attaches it during create, undoes that
	// on a failed create and detaches it on rm.
	BackendOptions(lbID string, weight int) (map[string]string, error)
	ListenerManager
}

// Resource is one cloud resource a machine owns, as a user would look it
// up in the cloud's console.
type Resource struct {
	Kind   string // "instance", "security group", "key pair", ...
	ID     string
	Region string
}

func (r Resource) String() string {
	s := r.Kind + " " + r.ID
	if r.Region != "" {
		s += " in " + r.Region
	}
	return s
}

// ResourceReporter is a driver that lists, from its stored configuration
// alone (no API call), the resources its machine owns, for `rm -f` to name
// what it could not remove.
type ResourceReporter interface {
	Resources() []Resource
}

// Cancellable is a driver whose calls that wait or talk to a network take
// the command's context: when it ends, the call returns promptly with the
// context's error. The plain drivers.Driver methods of such a driver run the
// same code on context.Background().
type Cancellable interface {
	PreCreateCheckContext(ctx context.Context) error
	CreateContext(ctx context.Context) error
	RemoveContext(ctx context.Context) error
	GetStateContext(ctx context.Context) (state.State, error)
	StartContext(ctx context.Context) error
	StopContext(ctx context.Context) error
	RestartContext(ctx context.Context) error
	KillContext(ctx context.Context) error
}

type cleanupKey struct{}

// WithCleanup returns ctx carrying cleanup, the context that rollbacks run
// on once ctx has ended: the CLI's ends at the second Ctrl-C, so a first
// Ctrl-C stops the work and a second one stops the cleanup too.
func WithCleanup(ctx, cleanup context.Context) context.Context {
	return context.WithValue(ctx, cleanupKey{}, cleanup)
}

// CleanupContext is the context a rollback runs on after ctx ended: the one
// WithCleanup attached, else ctx without its cancellation.
func CleanupContext(ctx context.Context) context.Context {
	if c, ok := ctx.Value(cleanupKey{}).(context.Context); ok && c != nil {
		return c
	}
	return context.WithoutCancel(ctx)
}

// SharedPreparer is a driver whose machines share cloud resources found by
// name (a security group, a network). Called on a driver configured from a
// create's options but bound to no machine, PrepareShared makes those
// resources if they are missing and returns them; creates that then run at
// once find them instead of racing to make one each. It is idempotent.
type SharedPreparer interface {
	PrepareShared(ctx context.Context) ([]Resource, error)
}

// MachineStatus is what `ls` needs of one machine from its driver.
type MachineStatus struct {
	State state.State
	// URL is the Docker URL when the driver could tell it from the same
	// answer (empty: ask the machine's driver with GetURL).
	URL string
	// Err is the reason State could not be told, worded for the user.
	Err string
}

// FleetReporter is a driver that answers for many machines at once: given
// the stored driver configurations (the Driver JSON of each machine's
// config.json) of machines of its kind, it returns one status per
// configuration, in order, with as few API calls as the cloud allows (one
// per region and page). Machines it cannot tell about get Err set; the
// error return is for a failure of the whole call.
type FleetReporter interface {
	Statuses(ctx context.Context, configs [][]byte) ([]MachineStatus, error)
}
