package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/rpc"
	"slices"
	"strings"

	"github.com/docker/machine/libmachine/state"

	"github.com/fleetdock/machine/libmachine/capability"
)

var _ capability.Provider = (*Client)(nil)
var _ capability.Provider = (*local)(nil)

// Capability answers for a built-in driver from the driver value itself;
// like a plugin, one without an address capability reports the addresses
// in its configuration.
func (l *local) Capability(target any) bool {
	if assign(l.Driver, target) {
		return true
	}
	if t, ok := target.(*capability.AddressReporter); ok {
		*t = configAddresses{l}
		return true
	}
	return false
}

// Capability answers for the driver in the plugin process: the ones its
// capability service says it offers, called over RPC. A plugin without the
// service (any stock plugin) still reports its addresses, read from its
// stored configuration by one decoder (see configAddresses).
func (c *Client) Capability(target any) bool {
	offered := c.supported()
	has := func(name string) bool { return slices.Contains(offered, name) }
	switch t := target.(type) {
	case *capability.AddressReporter:
		if has(CapAddresses) {
			*t = rpcAddresses{c}
		} else {
			*t = configAddresses{c}
		}
		return true
	case *capability.Cancellable:
		// Every plugin can be stopped: by closing it.
		*t = rpcCancellable{c}
		return true
	case *capability.DataDisker:
		return offer(t, capability.DataDisker(rpcDataDisk{c}), has(CapDataDisk))
	case *capability.SSHLess:
		return offer(t, capability.SSHLess(rpcNoSSH{c}), has(CapNoSSH))
	case *capability.LoadBalancing:
		return offer(t, capability.LoadBalancing(rpcLoadBalancing{c}), has(CapLoadBalancing))
	case *capability.ResourceReporter:
		return offer(t, capability.ResourceReporter(rpcResources{c}), has(CapResources))
	case *capability.EngineForwarder:
		return offer(t, capability.EngineForwarder(rpcEnginePort{c}), has(CapEnginePort))
	case *capability.SharedPreparer:
		return offer(t, capability.SharedPreparer(rpcShared{c}), has(CapShared))
	}
	return false
}

// Usable reports whether calls can still reach the driver: false once a
// plugin was closed (say, to stop it on Ctrl-C) or its process is gone. A
// built-in driver is always usable.
func Usable(d Driver) bool {
	c, ok := d.(*Client)
	if !ok {
		return true
	}
	return !c.closed.Load() && !c.proc.exited()
}

// rpcCancellable runs a plugin's driver calls so that the context stops
// them: when it ends first, the plugin is closed (its process exits, and
// whatever it was doing with it) and the call returns the context's error.
// The core relaunches the plugin from the stored configuration for the
// rollback.
type rpcCancellable struct{ c *Client }

func (r rpcCancellable) do(ctx context.Context, method string, reply any) error {
	return r.call(ctx, r.c.service, method, reply)
}

// call is do for a method of any of the plugin's services.
func (r rpcCancellable) call(ctx context.Context, service, method string, reply any) error {
	if reply == nil {
		reply = &struct{}{}
	}
	err := r.c.callService(ctx, service+"."+method, struct{}{}, reply)
	if ctx.Err() != nil && !r.c.closed.Load() {
		r.c.logger.Debug("Stopping the driver plugin of an interrupted call", "machine", r.c.machineName(), "method", method)
		_ = r.c.Close()
		return fmt.Errorf("%s on machine %q was interrupted and driver plugin %s was stopped: %w", method, r.c.machineName(), r.c.binary, ctx.Err())
	}
	return err
}

func (r rpcCancellable) PreCreateCheckContext(ctx context.Context) error {
	return r.do(ctx, "PreCreateCheck", nil)
}
func (r rpcCancellable) CreateContext(ctx context.Context) error  { return r.do(ctx, "Create", nil) }
func (r rpcCancellable) RemoveContext(ctx context.Context) error  { return r.do(ctx, "Remove", nil) }
func (r rpcCancellable) StartContext(ctx context.Context) error   { return r.do(ctx, "Start", nil) }
func (r rpcCancellable) StopContext(ctx context.Context) error    { return r.do(ctx, "Stop", nil) }
func (r rpcCancellable) RestartContext(ctx context.Context) error { return r.do(ctx, "Restart", nil) }
func (r rpcCancellable) KillContext(ctx context.Context) error    { return r.do(ctx, "Kill", nil) }

func (r rpcCancellable) GetStateContext(ctx context.Context) (state.State, error) {
	var st state.State
	err := r.do(ctx, "GetState", &st)
	return st, err
}

// offer stores impl in *target when the plugin serves it.
func offer[T any](target *T, impl T, served bool) bool {
	if served {
		*target = impl
	}
	return served
}

// supported asks the plugin once which capabilities it serves.
func (c *Client) supported() []string {
	c.capsOnce.Do(func() {
		var names []string
		err := c.callService(context.Background(), CapabilityService+".Supported", struct{}{}, &names)
		if err != nil {
			// "rpc: can't find service" is a stock plugin: no capabilities.
			if !strings.Contains(err.Error(), "can't find service") {
				c.logger.Debug("Driver plugin did not list its capabilities", "machine", c.machineName(), "err", err)
			}
			names = nil
		}
		c.caps = names
	})
	return c.caps
}

// callService calls any method of the plugin's RPC server, giving up when
// ctx ends (the plugin keeps running the call; Close stops it).
func (c *Client) callService(ctx context.Context, method string, args, reply any) error {
	if c.closed.Load() {
		return fmt.Errorf("%s on machine %q: %w", method, c.machineName(), ErrClosed)
	}
	c.logger.Debug(fmt.Sprintf("(%s) Calling .%s", c.machineName(), method))
	call := c.rpc.Go(method, args, reply, make(chan *rpc.Call, 1))
	select {
	case <-call.Done:
		return c.wrap(method, call.Error)
	case <-ctx.Done():
		return fmt.Errorf("%s on machine %q: %w", method, c.machineName(), ctx.Err())
	}
}

func (c *Client) callCap(ctx context.Context, method string, args, reply any) error {
	return c.callService(ctx, CapabilityService+"."+method, args, reply)
}

type rpcAddresses struct{ c *Client }

func (r rpcAddresses) Addresses(ctx context.Context) (capability.Addresses, error) {
	var a capability.Addresses
	err := r.c.callCap(ctx, "Addresses", struct{}{}, &a)
	return a, err
}

// configAddresses reads the addresses of a driver without an address
// capability (any stock plugin) from its configuration: the IP it reports,
// and the PrivateIPAddress that cloud drivers (stock amazonec2, for one)
// store. It is the one decoder of driver state outside the drivers.
type configAddresses struct{ d Driver }

func (r configAddresses) Addresses(context.Context) (capability.Addresses, error) {
	ip, err := r.d.GetIP()
	if err != nil {
		return capability.Addresses{}, err
	}
	a := capability.Addresses{Public: []string{ip}}
	if raw, err := json.Marshal(r.d); err == nil {
		var v struct{ PrivateIPAddress string }
		if json.Unmarshal(raw, &v) == nil && v.PrivateIPAddress != "" && v.PrivateIPAddress != ip {
			a.Private = []string{v.PrivateIPAddress}
		}
	}
	return a, nil
}

type rpcDataDisk struct{ c *Client }

func (r rpcDataDisk) DataDisk() (*capability.DataDisk, error) {
	var reply DataDiskReply
	if err := r.c.callCap(context.Background(), "DataDisk", struct{}{}, &reply); err != nil {
		return nil, err
	}
	if !reply.Present {
		return nil, nil
	}
	return &reply.Disk, nil
}

type rpcNoSSH struct{ c *Client }

func (r rpcNoSSH) HasNoSSH() bool {
	var no bool
	if err := r.c.callCap(context.Background(), "HasNoSSH", struct{}{}, &no); err != nil {
		r.c.logger.Warn("Driver plugin call failed", "machine", r.c.machineName(), "method", "HasNoSSH", "err", err)
	}
	return no
}

type rpcResources struct{ c *Client }

func (r rpcResources) Resources() []capability.Resource {
	var rs []capability.Resource
	if err := r.c.callCap(context.Background(), "Resources", struct{}{}, &rs); err != nil {
		r.c.logger.Warn("Driver plugin call failed", "machine", r.c.machineName(), "method", "Resources", "err", err)
	}
	return rs
}

type rpcEnginePort struct{ c *Client }

func (r rpcEnginePort) EnginePort() int {
	var port int
	if err := r.c.callCap(context.Background(), "EnginePort", struct{}{}, &port); err != nil {
		r.c.logger.Warn("Driver plugin call failed", "machine", r.c.machineName(), "method", "EnginePort", "err", err)
	}
	return port
}

// rpcShared prepares shared resources in the plugin; the context stops
// the call the way it stops the driver calls, by closing the plugin.
type rpcShared struct{ c *Client }

func (r rpcShared) PrepareShared(ctx context.Context) ([]capability.Resource, error) {
	var rs []capability.Resource
	err := rpcCancellable(r).call(ctx, CapabilityService, "PrepareShared", &rs)
	return rs, err
}

type rpcLoadBalancing struct{ c *Client }

func (r rpcLoadBalancing) BackendOptions(lbID string, weight int) (map[string]string, error) {
	var opts map[string]string
	err := r.c.callCap(context.Background(), "BackendOptions", LBArgs{LoadBalancer: lbID, Weight: weight}, &opts)
	return opts, err
}

func (r rpcLoadBalancing) DescribeLoadBalancer(ctx context.Context, lbID string) (capability.LoadBalancer, error) {
	var lb capability.LoadBalancer
	err := r.c.callCap(ctx, "DescribeLoadBalancer", LBArgs{LoadBalancer: lbID}, &lb)
	return lb, err
}

func (r rpcLoadBalancing) Listeners(ctx context.Context, lbID string) ([]capability.Listener, error) {
	var ls []capability.Listener
	err := r.c.callCap(ctx, "Listeners", LBArgs{LoadBalancer: lbID}, &ls)
	return ls, err
}

func (r rpcLoadBalancing) CreateListener(ctx context.Context, lbID string, l capability.Listener) error {
	return r.c.callCap(ctx, "CreateListener", LBArgs{LoadBalancer: lbID, Listener: l}, &struct{}{})
}

func (r rpcLoadBalancing) StartListener(ctx context.Context, lbID string, port int) error {
	return r.c.callCap(ctx, "StartListener", LBArgs{LoadBalancer: lbID, Port: port}, &struct{}{})
}

func (r rpcLoadBalancing) DeleteListener(ctx context.Context, lbID string, port int) error {
	return r.c.callCap(ctx, "DeleteListener", LBArgs{LoadBalancer: lbID, Port: port}, &struct{}{})
}
