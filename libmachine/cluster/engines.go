package cluster

import (
	"context"
	"sync"

	"github.com/fleetdock/machine/libmachine"
	"github.com/fleetdock/machine/libmachine/swarm"
)

// EngineSwarm implements Swarm over the machines' Docker Engine APIs, with
// the machines' TLS certificates (libmachine/swarm).
type EngineSwarm struct {
	Client *libmachine.Client

	mu      sync.Mutex
	members map[string]swarm.Member
}

var _ Swarm = (*EngineSwarm)(nil)

// NewEngineSwarm returns a Swarm over the machines of client's store.
func NewEngineSwarm(client *libmachine.Client) *EngineSwarm {
	return &EngineSwarm{Client: client, members: map[string]swarm.Member{}}
}

// member loads a machine once and describes it for the swarm package.
func (s *EngineSwarm) member(ctx context.Context, name string) (swarm.Member, error) {
	s.mu.Lock()
	m, ok := s.members[name]
	s.mu.Unlock()
	if ok {
		return m, nil
	}
	h, err := s.Client.Load(ctx, name)
	if err != nil {
		return swarm.Member{}, err
	}
	m, err = s.Client.SwarmMember(ctx, h, "")
	if err != nil {
		return swarm.Member{}, err
	}
	s.mu.Lock()
	s.members[name] = m
	s.mu.Unlock()
	return m, nil
}

func (s *EngineSwarm) Info(ctx context.Context, machine string) (swarm.Info, error) {
	m, err := s.member(ctx, machine)
	if err != nil {
		return swarm.Info{}, err
	}
	return m.Engine.Info(ctx)
}

func (s *EngineSwarm) EnsureManager(ctx context.Context, machine string) (swarm.Result, error) {
	m, err := s.member(ctx, machine)
	if err != nil {
		return swarm.Result{Machine: machine, Action: swarm.ActionFailed, Err: err}, err
	}
	return swarm.EnsureManager(ctx, m)
}

func (s *EngineSwarm) EnsureJoined(ctx context.Context, manager, machine string, role Role) (swarm.Result, error) {
	mm, err := s.member(ctx, manager)
	if err != nil {
		return swarm.Result{Machine: machine, Action: swarm.ActionFailed, Err: err}, err
	}
	nm, err := s.member(ctx, machine)
	if err != nil {
		return swarm.Result{Machine: machine, Action: swarm.ActionFailed, Err: err}, err
	}
	return swarm.EnsureJoined(ctx, mm, nm, swarm.Role(role))
}

func (s *EngineSwarm) Services(ctx context.Context, manager string) ([]Service, error) {
	m, err := s.member(ctx, manager)
	if err != nil {
		return nil, err
	}
	svcs, err := m.Engine.Services(ctx)
	if err != nil {
		return nil, err
	}
	return FromSwarmServices(svcs), nil
}

func (s *EngineSwarm) Nodes(ctx context.Context, manager string, machines []string) ([]swarm.NodeStatus, error) {
	m, err := s.member(ctx, manager)
	if err != nil {
		return nil, err
	}
	var known []swarm.Member
	for _, name := range machines {
		if k, err := s.member(ctx, name); err == nil {
			known = append(known, k)
		}
	}
	return swarm.List(ctx, m, known...)
}

func (s *EngineSwarm) Networks(ctx context.Context, manager string) ([]swarm.Network, error) {
	m, err := s.member(ctx, manager)
	if err != nil {
		return nil, err
	}
	return m.Engine.Networks(ctx)
}

func (s *EngineSwarm) Network(ctx context.Context, manager, id string) (swarm.Network, error) {
	m, err := s.member(ctx, manager)
	if err != nil {
		return swarm.Network{}, err
	}
	return m.Engine.Network(ctx, id)
}

func (s *EngineSwarm) CreateNetwork(ctx context.Context, manager string, spec swarm.NetworkSpec) (string, error) {
	m, err := s.member(ctx, manager)
	if err != nil {
		return "", err
	}
	return m.Engine.CreateNetwork(ctx, spec)
}

func (s *EngineSwarm) RemoveNetwork(ctx context.Context, manager, id string) error {
	m, err := s.member(ctx, manager)
	if err != nil {
		return err
	}
	return m.Engine.RemoveNetwork(ctx, id)
}

// FromSwarmServices converts the Engine API's services for the listener sync.
func FromSwarmServices(svcs []swarm.Service) []Service {
	out := make([]Service, 0, len(svcs))
	for _, sv := range svcs {
		s := Service{Name: sv.Name, Labels: sv.Labels}
		for _, p := range sv.Ports {
			s.Ports = append(s.Ports, PublishedPort{Protocol: p.Protocol, Published: int(p.PublishedPort), Target: int(p.TargetPort), Mode: p.PublishMode})
		}
		out = append(out, s)
	}
	return out
}
