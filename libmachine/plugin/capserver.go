package plugin

import (
	"context"
	"errors"
	"log/slog"
	"net/rpc"
	"os"
	"slices"

	"github.com/docker/machine/libmachine/drivers"
	stockplugin "github.com/docker/machine/libmachine/drivers/plugin"

	"github.com/fleetdock/machine/libmachine/capability"
)

// The capability contract for plugin binaries.
//
// Next to the stock "RPCServerDriver" service, a plugin may serve a net/rpc
// service named CapabilityService with these methods (gob encoding, as the
// stock protocol):
//
//	Supported(struct{}, *[]string)                 names from the Cap* constants
//	Addresses(struct{}, *capability.Addresses)     CapAddresses
//	DataDisk(struct{}, *DataDiskReply)             CapDataDisk
//	HasNoSSH(struct{}, *bool)                      CapNoSSH
//	Resources(struct{}, *[]capability.Resource)    CapResources
//	EnginePort(struct{}, *int)                     CapEnginePort
//	PrepareShared(struct{}, *[]capability.Resource) CapShared
//	BackendOptions(LBArgs, *map[string]string)     CapLoadBalancing, and the
//	DescribeLoadBalancer(LBArgs, *capability.LoadBalancer)   listener calls
//	Listeners(LBArgs, *[]capability.Listener)
//	CreateListener(LBArgs, *struct{})
//	StartListener(LBArgs, *struct{})
//	DeleteListener(LBArgs, *struct{})
//
// A client first calls Supported; a plugin without the service (any stock
// plugin) offers none. Serve registers the service for a driver and then
// runs the stock server, so stock CLIs keep driving the binary unchanged.
const CapabilityService = "Capabilities"

// Capability names, as Supported reports them.
const (
	CapAddresses     = "addresses"
	CapDataDisk      = "data-disk"
	CapNoSSH         = "no-ssh"
	CapLoadBalancing = "load-balancing"
	CapResources     = "resources"
	CapEnginePort    = "engine-port"
	CapShared        = "shared-resources"
)

// DataDiskReply carries an optional data disk (gob cannot send a nil pointer).
type DataDiskReply struct {
	Present bool
	Disk    capability.DataDisk
}

// LBArgs are the arguments of the load-balancing calls.
type LBArgs struct {
	LoadBalancer string
	Weight       int
	Port         int
	Listener     capability.Listener
}

// Serve runs d as a plugin binary: the stock driver service plus the
// capability service, logging through NewLineHandler on stdout and stderr.
// Like the stock RegisterDriver it never returns.
func Serve(d drivers.Driver) {
	slog.SetDefault(slog.New(NewLineHandler(os.Stdout, os.Stderr)))
	if err := rpc.RegisterName(CapabilityService, &capServer{d: d}); err != nil {
		panic("plugin: registering the capability service: " + err.Error())
	}
	stockplugin.RegisterDriver(d)
}

// capServer answers the capability calls for a driver.
type capServer struct{ d drivers.Driver }

var errNotOffered = errors.New("the driver does not offer this capability")

// supported lists the capabilities a driver value offers.
func supported(d drivers.Driver) []string {
	var out []string
	if capability.Has[capability.AddressReporter](d) {
		out = append(out, CapAddresses)
	}
	if capability.Has[capability.DataDisker](d) {
		out = append(out, CapDataDisk)
	}
	if capability.Has[capability.SSHLess](d) {
		out = append(out, CapNoSSH)
	}
	if capability.Has[capability.LoadBalancing](d) {
		out = append(out, CapLoadBalancing)
	}
	if capability.Has[capability.ResourceReporter](d) {
		out = append(out, CapResources)
	}
	if capability.Has[capability.EngineForwarder](d) {
		out = append(out, CapEnginePort)
	}
	if capability.Has[capability.SharedPreparer](d) {
		out = append(out, CapShared)
	}
	slices.Sort(out)
	return out
}

func (s *capServer) Supported(_ struct{}, reply *[]string) error {
	*reply = supported(s.d)
	return nil
}

func (s *capServer) Addresses(_ struct{}, reply *capability.Addresses) error {
	a, ok := capability.Get[capability.AddressReporter](s.d)
	if !ok {
		return errNotOffered
	}
	addrs, err := a.Addresses(context.Background())
	*reply = addrs
	return err
}

func (s *capServer) DataDisk(_ struct{}, reply *DataDiskReply) error {
	dd, ok := capability.Get[capability.DataDisker](s.d)
	if !ok {
		return errNotOffered
	}
	disk, err := dd.DataDisk()
	if disk != nil {
		*reply = DataDiskReply{Present: true, Disk: *disk}
	}
	return err
}

func (s *capServer) HasNoSSH(_ struct{}, reply *bool) error {
	n, ok := capability.Get[capability.SSHLess](s.d)
	*reply = ok && n.HasNoSSH()
	return nil
}

func (s *capServer) Resources(_ struct{}, reply *[]capability.Resource) error {
	r, ok := capability.Get[capability.ResourceReporter](s.d)
	if !ok {
		return errNotOffered
	}
	*reply = r.Resources()
	return nil
}

func (s *capServer) EnginePort(_ struct{}, reply *int) error {
	f, ok := capability.Get[capability.EngineForwarder](s.d)
	if !ok {
		return errNotOffered
	}
	*reply = f.EnginePort()
	return nil
}

// PrepareShared runs until done: a client that gives up closes the plugin,
// which ends the process and the call with it.
func (s *capServer) PrepareShared(_ struct{}, reply *[]capability.Resource) error {
	p, ok := capability.Get[capability.SharedPreparer](s.d)
	if !ok {
		return errNotOffered
	}
	rs, err := p.PrepareShared(context.Background())
	*reply = rs
	return err
}

func (s *capServer) lb() (capability.LoadBalancing, error) {
	lb, ok := capability.Get[capability.LoadBalancing](s.d)
	if !ok {
		return nil, errNotOffered
	}
	return lb, nil
}

func (s *capServer) BackendOptions(args LBArgs, reply *map[string]string) error {
	lb, err := s.lb()
	if err != nil {
		return err
	}
	*reply, err = lb.BackendOptions(args.LoadBalancer, args.Weight)
	return err
}

func (s *capServer) DescribeLoadBalancer(args LBArgs, reply *capability.LoadBalancer) error {
	lb, err := s.lb()
	if err != nil {
		return err
	}
	*reply, err = lb.DescribeLoadBalancer(context.Background(), args.LoadBalancer)
	return err
}

func (s *capServer) Listeners(args LBArgs, reply *[]capability.Listener) error {
	lb, err := s.lb()
	if err != nil {
		return err
	}
	*reply, err = lb.Listeners(context.Background(), args.LoadBalancer)
	return err
}

func (s *capServer) CreateListener(args LBArgs, _ *struct{}) error {
	lb, err := s.lb()
	if err != nil {
		return err
	}
	return lb.CreateListener(context.Background(), args.LoadBalancer, args.Listener)
}

func (s *capServer) StartListener(args LBArgs, _ *struct{}) error {
	lb, err := s.lb()
	if err != nil {
		return err
	}
	return lb.StartListener(context.Background(), args.LoadBalancer, args.Port)
}

func (s *capServer) DeleteListener(args LBArgs, _ *struct{}) error {
	lb, err := s.lb()
	if err != nil {
		return err
	}
	return lb.DeleteListener(context.Background(), args.LoadBalancer, args.Port)
}
