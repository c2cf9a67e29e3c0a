package swarm

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// Network is a Docker network as a daemon describes it. On a manager the
// list holds the swarm's networks (scope "swarm") beside the daemon's own
// (scope "local").
type Network struct {
	ID   string
	Name string
	// Driver is "overlay", "bridge", ... A swarm network the managers have
	// not allocated (its subnet overlaps another one, say) has none.
	Driver     string
	Scope      string
	Attachable bool
	Internal   bool
	Ingress    bool
	EnableIPv6 bool
	IPAM       []IPAMConfig
	Options    map[string]string
	Labels     map[string]string
}

// IPAMConfig is one address pool of a network.
type IPAMConfig struct {
	Subnet  string `json:",omitempty"`
	Gateway string `json:",omitempty"`
	IPRange string `json:",omitempty"`
}

// Allocated reports whether the network is usable: a swarm network gets
// its driver and pools from the managers' allocator, which can refuse them
// after the create succeeded.
func (n Network) Allocated() bool { return n.Driver != "" }

// NetworkSpec is a network to create. Subnet, Gateway and IPRange are
// optional; without a subnet the daemon picks one from its pools.
type NetworkSpec struct {
	Name       string
	Driver     string
	Attachable bool
	Internal   bool
	Subnet     string
	Gateway    string
	IPRange    string
	Options    map[string]string
	Labels     map[string]string
}

type wireNetwork struct {
	Name       string
	ID         string `json:"Id"`
	Scope      string
	Driver     string
	EnableIPv6 bool
	IPAM       struct{ Config []IPAMConfig }
	Internal   bool
	Attachable bool
	Ingress    bool
	Options    map[string]string
	Labels     map[string]string
}

func (w wireNetwork) network() Network {
	return Network{ID: w.ID, Name: w.Name, Driver: w.Driver, Scope: w.Scope, Attachable: w.Attachable,
		Internal: w.Internal, Ingress: w.Ingress, EnableIPv6: w.EnableIPv6, IPAM: w.IPAM.Config,
		Options: w.Options, Labels: w.Labels}
}

// Networks lists the daemon's networks.
func (e *Engine) Networks(ctx context.Context) ([]Network, error) {
	var ws []wireNetwork
	if err := e.do(ctx, http.MethodGet, "/networks", nil, nil, &ws); err != nil {
		return nil, fmt.Errorf("listing the networks of %q: %w", e.Name, err)
	}
	out := make([]Network, len(ws))
	for i, w := range ws {
		out[i] = w.network()
	}
	return out, nil
}

// Network inspects one network by ID or name; IsNotFound tells one the
// daemon does not know.
func (e *Engine) Network(ctx context.Context, id string) (Network, error) {
	var w wireNetwork
	if err := e.do(ctx, http.MethodGet, "/networks/"+url.PathEscape(id), nil, nil, &w); err != nil {
		return Network{}, fmt.Errorf("inspecting network %s on %q: %w", id, e.Name, err)
	}
	return w.network(), nil
}

// CreateNetwork creates a network and returns its ID. The daemon refuses a
// name that is taken (IsConflict); a multi-host network needs a manager.
func (e *Engine) CreateNetwork(ctx context.Context, spec NetworkSpec) (string, error) {
	type ipam struct {
		Driver string
		Config []IPAMConfig
	}
	req := struct {
		Name           string
		CheckDuplicate bool
		Driver         string
		Attachable     bool
		Internal       bool
		IPAM           *ipam             `json:",omitempty"`
		Options        map[string]string `json:",omitempty"`
		Labels         map[string]string `json:",omitempty"`
	}{Name: spec.Name, CheckDuplicate: true, Driver: spec.Driver, Attachable: spec.Attachable, Internal: spec.Internal,
		Options: spec.Options, Labels: spec.Labels}
	if spec.Subnet != "" {
		req.IPAM = &ipam{Driver: "default", Config: []IPAMConfig{{Subnet: spec.Subnet, Gateway: spec.Gateway, IPRange: spec.IPRange}}}
	}
	var resp struct {
		ID      string `json:"Id"`
		Warning string
	}
	if err := e.do(ctx, http.MethodPost, "/networks/create", nil, req, &resp); err != nil {
		return "", fmt.Errorf("creating network %s on %q: %w", spec.Name, e.Name, err)
	}
	return resp.ID, nil
}

// RemoveNetwork deletes a network; the daemon refuses while containers or
// services use it.
func (e *Engine) RemoveNetwork(ctx context.Context, id string) error {
	if err := e.do(ctx, http.MethodDelete, "/networks/"+url.PathEscape(id), nil, nil, nil); err != nil {
		return fmt.Errorf("removing network %s on %q: %w", id, e.Name, err)
	}
	return nil
}

// IsConflict reports whether the daemon answered 409 (a name in use).
func IsConflict(err error) bool { return statusOf(err) == http.StatusConflict }
