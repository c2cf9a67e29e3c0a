package swarm

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// LocalNodeState is a daemon's own view of its swarm membership.
type LocalNodeState string

const (
	StateInactive LocalNodeState = "inactive"
	StatePending  LocalNodeState = "pending"
	StateActive   LocalNodeState = "active"
	StateError    LocalNodeState = "error"
	StateLocked   LocalNodeState = "locked"
)

// Role is a node's role in a swarm.
type Role string

const (
	RoleWorker  Role = "worker"
	RoleManager Role = "manager"
)

// ParseRole accepts "worker" or "manager" in any case.
func ParseRole(s string) (Role, error) {
	switch r := Role(strings.ToLower(strings.TrimSpace(s))); r {
	case RoleWorker, RoleManager:
		return r, nil
	}
	return "", fmt.Errorf("invalid swarm role %q: use worker or manager", s)
}

// Availability is whether the scheduler may place tasks on a node.
type Availability string

const (
	AvailabilityActive Availability = "active"
	AvailabilityPause  Availability = "pause"
	AvailabilityDrain  Availability = "drain"
)

// DefaultListenAddr is where a daemon listens for swarm traffic.
const DefaultListenAddr = "0.0.0.0:2377"

// Peer is a manager as a swarm node knows it.
type Peer struct {
	NodeID string
	Addr   string // host:2377
}

// Info is the swarm part of GET /info.
type Info struct {
	// Hostname is the daemon's host name (the machine name on provisioned machines).
	Hostname       string
	ServerVersion  string
	LocalNodeState LocalNodeState
	NodeID         string
	NodeAddr       string
	// ControlAvailable is true on managers.
	ControlAvailable bool
	// Error is the daemon's complaint about its swarm, such as a lost quorum.
	Error string
	// Warnings are the daemon's advice on a manager, such as the lack of
	// fault tolerance of two managers.
	Warnings       []string
	RemoteManagers []Peer
	Nodes          int
	Managers       int
	// ClusterID is known on managers only.
	ClusterID string
}

// wireInfo is GET /info as the daemon answers it. Its Swarm object has
// Info's field names, but holds neither the host name nor the server
// version, and nests the cluster ID.
type wireInfo struct {
	Name          string
	ServerVersion string
	Swarm         struct {
		Info
		Cluster *struct{ ID string }
	}
}

// Info reads the daemon's swarm state.
func (e *Engine) Info(ctx context.Context) (Info, error) {
	var w wireInfo
	if err := e.do(ctx, http.MethodGet, "/info", nil, nil, &w); err != nil {
		return Info{}, fmt.Errorf("reading the swarm state of %q: %w", e.Name, err)
	}
	i := w.Swarm.Info
	i.Hostname, i.ServerVersion = w.Name, w.ServerVersion
	if w.Swarm.Cluster != nil {
		i.ClusterID = w.Swarm.Cluster.ID
	}
	return i, nil
}

// Init creates a new swarm with this daemon as its first manager and
// returns the new node ID. advertiseAddr is the address other nodes reach
// it on (an IP, optionally with :port); listenAddr defaults to
// DefaultListenAddr.
func (e *Engine) Init(ctx context.Context, advertiseAddr, listenAddr string) (string, error) {
	if listenAddr == "" {
		listenAddr = DefaultListenAddr
	}
	req := struct {
		ListenAddr    string
		AdvertiseAddr string
	}{listenAddr, advertiseAddr}
	var nodeID string
	if err := e.doTimeout(ctx, joinTimeout, http.MethodPost, "/swarm/init", nil, req, &nodeID); err != nil {
		return "", fmt.Errorf("initialising a swarm on %q (advertising %s): %w", e.Name, advertiseAddr, err)
	}
	return nodeID, nil
}

// JoinTokens are a swarm's secrets for joining it. They print as
// "[redacted]" so that they cannot end up in logs by accident.
type JoinTokens struct {
	Worker  string
	Manager string
}

// For returns the token for role.
func (t JoinTokens) For(role Role) string {
	if role == RoleManager {
		return t.Manager
	}
	return t.Worker
}

func (JoinTokens) String() string   { return "[redacted]" }
func (JoinTokens) GoString() string { return "swarm.JoinTokens{[redacted]}" }

// Cluster is a swarm as a manager describes it (GET /swarm).
type Cluster struct {
	ID         string
	Version    uint64
	CreatedAt  time.Time
	UpdatedAt  time.Time
	JoinTokens JoinTokens
}

// InspectSwarm reads the swarm this daemon manages; it fails on workers.
func (e *Engine) InspectSwarm(ctx context.Context) (Cluster, error) {
	var w struct {
		ID         string
		Version    struct{ Index uint64 }
		CreatedAt  time.Time
		UpdatedAt  time.Time
		JoinTokens JoinTokens
	}
	if err := e.do(ctx, http.MethodGet, "/swarm", nil, nil, &w); err != nil {
		return Cluster{}, fmt.Errorf("inspecting the swarm of %q: %w", e.Name, err)
	}
	return Cluster{ID: w.ID, Version: w.Version.Index, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt, JoinTokens: w.JoinTokens}, nil
}

// JoinTokens reads the worker and manager join tokens from a manager.
func (e *Engine) JoinTokens(ctx context.Context) (JoinTokens, error) {
	c, err := e.InspectSwarm(ctx)
	if err != nil {
		return JoinTokens{}, err
	}
	if c.JoinTokens.Worker == "" || c.JoinTokens.Manager == "" {
		return JoinTokens{}, fmt.Errorf("the swarm manager %q returned no join tokens", e.Name)
	}
	return c.JoinTokens, nil
}

// Join makes this daemon join the swarm reachable at remoteAddrs
// (manager host:port addresses) with token, which decides the role.
// advertiseAddr is the address the other nodes reach this one on.
func (e *Engine) Join(ctx context.Context, token string, remoteAddrs []string, advertiseAddr string) error {
	req := struct {
		ListenAddr    string
		AdvertiseAddr string
		RemoteAddrs   []string
		JoinToken     string
	}{DefaultListenAddr, advertiseAddr, remoteAddrs, token}
	if err := e.doTimeout(ctx, joinTimeout, http.MethodPost, "/swarm/join", nil, req, nil); err != nil {
		return fmt.Errorf("joining %q to the swarm at %s: %w", e.Name, strings.Join(remoteAddrs, ", "), err)
	}
	return nil
}

// Leave takes this daemon out of its swarm. Without force the daemon
// refuses to leave when it is a manager.
func (e *Engine) Leave(ctx context.Context, force bool) error {
	q := url.Values{}
	if force {
		q.Set("force", "1")
	}
	if err := e.doTimeout(ctx, joinTimeout, http.MethodPost, "/swarm/leave", q, nil, nil); err != nil {
		return fmt.Errorf("leaving the swarm on %q: %w", e.Name, err)
	}
	return nil
}

// NodeSpec is the writable part of a node. It is the whole of the API's
// NodeSpec, so an update that sends it back loses nothing.
type NodeSpec struct {
	Name         string            `json:",omitempty"`
	Labels       map[string]string `json:"Labels"`
	Role         Role
	Availability Availability
}

// ManagerStatus is a manager node's raft membership.
type ManagerStatus struct {
	Leader bool
	// Reachability is "reachable", "unreachable" or "unknown".
	Reachability string
	Addr         string
}

// Node is one node of a swarm, as a manager sees it.
type Node struct {
	ID      string
	Version uint64
	Spec    NodeSpec
	// Hostname of the node's daemon.
	Hostname      string
	EngineVersion string
	// State is "ready", "down", "disconnected" or "unknown".
	State   string
	Message string
	// Addr is the node's address as the managers see it.
	Addr string
	// Manager is nil on workers.
	Manager *ManagerStatus
}

type wireNode struct {
	ID          string
	Version     struct{ Index uint64 }
	Spec        NodeSpec
	Description struct {
		Hostname string
		Engine   struct{ EngineVersion string }
	}
	Status struct {
		State   string
		Message string
		Addr    string
	}
	ManagerStatus *ManagerStatus
}

func (w wireNode) node() Node {
	return Node{
		ID:            w.ID,
		Version:       w.Version.Index,
		Spec:          w.Spec,
		Hostname:      w.Description.Hostname,
		EngineVersion: w.Description.Engine.EngineVersion,
		State:         w.Status.State,
		Message:       w.Status.Message,
		Addr:          w.Status.Addr,
		Manager:       w.ManagerStatus,
	}
}

// Nodes lists the swarm's nodes; only managers can.
func (e *Engine) Nodes(ctx context.Context) ([]Node, error) {
	var ws []wireNode
	if err := e.do(ctx, http.MethodGet, "/nodes", nil, nil, &ws); err != nil {
		return nil, fmt.Errorf("listing the swarm nodes through %q: %w", e.Name, err)
	}
	out := make([]Node, len(ws))
	for i, w := range ws {
		out[i] = w.node()
	}
	return out, nil
}

// Node inspects one node by ID or hostname; IsNotFound tells a node the
// swarm does not know.
func (e *Engine) Node(ctx context.Context, id string) (Node, error) {
	var w wireNode
	if err := e.do(ctx, http.MethodGet, "/nodes/"+url.PathEscape(id), nil, nil, &w); err != nil {
		return Node{}, fmt.Errorf("inspecting swarm node %s through %q: %w", id, e.Name, err)
	}
	return w.node(), nil
}

// updateAttempts bounds the read-modify-write retries of UpdateNode when
// another client changes the node in between.
const updateAttempts = 5

// UpdateNode applies change to the node's spec and writes it back with the
// version it was read at; when someone else updated the node in between
// (the daemon says "update out of sequence") it reads and tries again.
func (e *Engine) UpdateNode(ctx context.Context, id string, change func(*NodeSpec)) error {
	var err error
	for range updateAttempts {
		var n Node
		n, err = e.Node(ctx, id)
		if err != nil {
			return err
		}
		spec := n.Spec
		if spec.Labels == nil {
			spec.Labels = map[string]string{}
		}
		change(&spec)
		q := url.Values{"version": {strconv.FormatUint(n.Version, 10)}}
		err = e.do(ctx, http.MethodPost, "/nodes/"+url.PathEscape(id)+"/update", q, spec, nil)
		if err == nil || !messageHas(err, "update out of sequence") {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("updating swarm node %s through %q: %w", id, e.Name, err)
	}
	return nil
}

// Promote makes a node a manager.
func (e *Engine) Promote(ctx context.Context, id string) error {
	return e.UpdateNode(ctx, id, func(s *NodeSpec) { s.Role = RoleManager })
}

// Demote makes a manager node a worker.
func (e *Engine) Demote(ctx context.Context, id string) error {
	return e.UpdateNode(ctx, id, func(s *NodeSpec) { s.Role = RoleWorker })
}

// RemoveNode deletes a node from the swarm's list. Without force the node
// must be down (it left, or its daemon is gone) and a worker.
func (e *Engine) RemoveNode(ctx context.Context, id string, force bool) error {
	q := url.Values{}
	if force {
		q.Set("force", "1")
	}
	if err := e.do(ctx, http.MethodDelete, "/nodes/"+url.PathEscape(id), q, nil, nil); err != nil {
		return fmt.Errorf("removing swarm node %s through %q: %w", id, e.Name, err)
	}
	return nil
}

// PortConfig is one published port of a service.
type PortConfig struct {
	Name string `json:",omitempty"`
	// Protocol is "tcp", "udp" or "sctp".
	Protocol      string
	TargetPort    uint32
	PublishedPort uint32
	// PublishMode is "ingress" (the routing mesh, on every node) or "host".
	PublishMode string
}

// Service is a swarm service with what a load balancer needs to know.
type Service struct {
	ID     string
	Name   string
	Labels map[string]string
	// Mode is "replicated" or "global".
	Mode string
	// Replicas is set for replicated services.
	Replicas *uint64
	// Ports are the published ports, as assigned by the swarm (a port
	// published without a number has the one the swarm picked).
	Ports     []PortConfig
	CreatedAt time.Time
	UpdatedAt time.Time
}

type wireService struct {
	ID        string
	CreatedAt time.Time
	UpdatedAt time.Time
	Spec      struct {
		Name   string
		Labels map[string]string
		Mode   struct {
			Replicated *struct{ Replicas *uint64 }
			Global     *struct{}
		}
		EndpointSpec *struct{ Ports []PortConfig }
	}
	Endpoint struct {
		Ports []PortConfig
	}
}

// Services lists the swarm's services; only managers can.
func (e *Engine) Services(ctx context.Context) ([]Service, error) {
	var ws []wireService
	if err := e.do(ctx, http.MethodGet, "/services", nil, nil, &ws); err != nil {
		return nil, fmt.Errorf("listing the swarm services through %q: %w", e.Name, err)
	}
	out := make([]Service, 0, len(ws))
	for _, w := range ws {
		s := Service{ID: w.ID, Name: w.Spec.Name, Labels: w.Spec.Labels, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
		switch {
		case w.Spec.Mode.Global != nil:
			s.Mode = "global"
		case w.Spec.Mode.Replicated != nil:
			s.Mode = "replicated"
			s.Replicas = w.Spec.Mode.Replicated.Replicas
		}
		// The endpoint holds the ports actually assigned; the spec is the
		// fallback while the swarm has not filled it in yet.
		s.Ports = w.Endpoint.Ports
		if len(s.Ports) == 0 && w.Spec.EndpointSpec != nil {
			s.Ports = w.Spec.EndpointSpec.Ports
		}
		out = append(out, s)
	}
	return out, nil
}
