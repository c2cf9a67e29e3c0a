package cluster

import (
	"context"
	"fmt"
	"io"

	"github.com/docker/machine/libmachine/drivers"

	"github.com/fleetdock/machine/libmachine"
	"github.com/fleetdock/machine/libmachine/capability"
)

// StoreMachines implements Machines over a store with libmachine's own
// create and remove paths: a node becomes a typed create request, never a
// command line.
type StoreMachines struct {
	// Client reads the store (list, exists, state).
	Client *libmachine.Client
	// NewClient returns a client whose progress lines go to out, so that
	// parallel creates each report on their own line. The caller closes it.
	NewClient func(out io.Writer) *libmachine.Client
}

var _ Machines = (*StoreMachines)(nil)

func (m *StoreMachines) List(context.Context) ([]string, error) { return m.Client.Store.List() }

func (m *StoreMachines) Prepare(ctx context.Context) error { return m.Client.BootstrapCerts(ctx) }

func (m *StoreMachines) Exists(name string) (bool, error) { return m.Client.Store.Exists(name) }

// PrepareShared asks a driver configured from the node's options, bound to
// no machine, to make what the node's creates share.
func (m *StoreMachines) PrepareShared(ctx context.Context, n Node, out io.Writer) ([]capability.Resource, error) {
	c := m.NewClient(out)
	defer c.Close()
	return c.PrepareShared(ctx, n.Driver, n.optionValues())
}

// Create makes the node with one driver instance: it answers the flag
// lookup, the load-balancer options and then the create.
func (m *StoreMachines) Create(ctx context.Context, n Node, out io.Writer) error {
	c := m.NewClient(out)
	defer c.Close()
	d, err := c.OpenDriver(ctx, n.Driver)
	if err != nil {
		return err
	}
	req, err := n.CreateRequest(d)
	if err != nil {
		return fmt.Errorf("the options of group %s: %w", n.Group, err)
	}
	return c.CreateMachine(ctx, d, req)
}

// Remove is `rm -y`: the driver removes the cloud resources, then the
// store entry goes; a driver failure keeps the entry for `rm -f`.
func (m *StoreMachines) Remove(ctx context.Context, name string, force bool, out io.Writer) error {
	c := m.NewClient(out)
	defer c.Close()
	warning, err := c.Remove(ctx, name, force)
	if err == nil && warning != nil {
		fmt.Fprintf(out, "the store entry is gone, but: %v\n", warning)
	}
	return err
}

func (m *StoreMachines) State(ctx context.Context, name string) (string, error) {
	h, err := m.Client.Load(ctx, name)
	if err != nil {
		return "", err
	}
	st, err := h.Driver.GetState()
	if err != nil {
		return "", err
	}
	return st.String(), nil
}

// LoadBalancers returns, for a load balancer of f, the load-balancing
// capability of the driver of the first group attached to it, configured
// with that group's driver options (region, endpoint, credentials).
func (m *StoreMachines) LoadBalancers(f *File) func(ctx context.Context, lbID string) (LoadBalancers, error) {
	return func(ctx context.Context, lbID string) (LoadBalancers, error) {
		for _, n := range f.Nodes() {
			if n.SLB != lbID {
				continue
			}
			d, err := m.Client.DriverFor(ctx, n.Driver, n.optionValues())
			if err != nil {
				return nil, fmt.Errorf("the options of group %s: %w", n.Group, err)
			}
			return loadBalancing(d, n)
		}
		return nil, fmt.Errorf("no group of %s is attached to load balancer %s", f.Path, lbID)
	}
}

func loadBalancing(d drivers.Driver, n Node) (capability.LoadBalancing, error) {
	lb, ok := capability.Get[capability.LoadBalancing](d)
	if !ok {
		return nil, fmt.Errorf("group %s uses load balancer %s, but the %s driver cannot manage load balancers; remove slb from the group or use a driver that can", n.Group, n.SLB, n.Driver)
	}
	return lb, nil
}

// optionValues are the node's driver options by name.
func (n Node) optionValues() map[string][]string {
	set := map[string][]string{}
	for _, o := range n.DriverOptions {
		set[o.Name] = o.Values
	}
	return set
}

// CreateRequest is the create request of the node for its driver d: the
// file's engine settings over the create defaults, its driver options, and
// the options that attach it to its load balancer, from d's load-balancing
// capability.
func (n Node) CreateRequest(d drivers.Driver) (libmachine.CreateRequest, error) {
	req := libmachine.NewCreateRequest(n.Name, n.Driver)
	e := n.Engine
	if e.InstallURL != "" {
		req.Engine.InstallURL = e.InstallURL
	}
	req.Engine.StorageDriver = e.StorageDriver
	// A list given in the file replaces the default, as a repeated flag does.
	for _, l := range []struct {
		dst *[]string
		src []string
	}{
		{&req.Engine.RegistryMirror, e.RegistryMirror},
		{&req.Engine.InsecureRegistry, e.InsecureRegistry},
		{&req.Engine.Labels, e.Labels},
		{&req.Engine.ArbitraryFlags, e.Opt},
		{&req.Engine.Env, e.Env},
		{&req.TLSSANs, e.TLSSAN},
	} {
		if len(l.src) > 0 {
			*l.dst = append([]string{}, l.src...)
		}
	}
	set := n.optionValues()
	if n.SLB != "" {
		lb, err := loadBalancing(d, n)
		if err != nil {
			return req, err
		}
		opts, err := lb.BackendOptions(n.SLB, 0)
		if err != nil {
			return req, err
		}
		for k, v := range opts {
			if _, dup := set[k]; dup {
				return req, fmt.Errorf("give the load balancer once, as slb, not also as driver option %s", k)
			}
			set[k] = []string{v}
		}
	}
	opts, err := libmachine.DriverOptionsFrom(d.GetCreateFlags(), set)
	if err != nil {
		return req, err
	}
	req.DriverOptions = opts
	return req, req.Validate()
}
